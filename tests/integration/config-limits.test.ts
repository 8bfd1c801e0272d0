/**
 * A Config over the server's limits (lib/gan/limits.ts, from server/limits.ts's environment) is refused when the run
 * is created, before any trainer allocates: BAD_REQUEST with field issues that name the numbers, and the server
 * answers as before. This server runs with GAN_MAX_BATCH_SIZE=32.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NNC_DCGAN_WITH_LABEL } from "../../lib/gan/spec";
import { startServer, type RunningServer } from "../../server/app";
import { person, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-config-limits-"));
let server: RunningServer;
let owner: Person;
let sessionId: string;

beforeAll(async () => {
  server = await startServer(testEnv(tmp, { GAN_MAX_BATCH_SIZE: "32" }));
  owner = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "lena@example.com", name: "Lena", password: "correct horse" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Limits" })).id;
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Refusal {
  code: string;
  message: string;
  issues: { path: string; message: string }[] | null;
}

/** The tRPC error of a call that must fail: its code, message and field issues. */
async function refusal(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) {
      const data = e.data as { code: string; issues: Refusal["issues"] };
      return { code: data.code, message: e.message, issues: data.issues };
    }
    throw e;
  }
  throw new Error("expected the call to be refused");
}

const create = (name: string, config: Record<string, unknown>) => owner.api.runs.create.mutate({ sessionId, name, config });

describe("a Config over this server's limits", () => {
  it("BatchSize 4096 and 64 are refused naming the server's limit of 32; 32 is accepted", async () => {
    const big = await refusal(create("huge batch", { batchSize: 4096, network: "small-dcgan" }));
    expect(big.code).toBe("BAD_REQUEST");
    expect(big.issues).toEqual([{ path: "batchSize", message: "BatchSize 4096 is over this server's limit of 32" }]);
    const over = await refusal(create("batch 64", { batchSize: 64 }));
    expect(over.code).toBe("BAD_REQUEST");
    expect(over.issues).toEqual([{ path: "batchSize", message: "BatchSize 64 is over this server's limit of 32" }]);
    expect(over.message).toContain("32");
    const run = await create("batch 32", { batchSize: 32, network: "small-dcgan", diagnostics: false });
    expect(run.name).toBe("batch 32");
  });

  it("a giant network is refused naming its parameter count, the limit and the memory it would need", async () => {
    const network = structuredClone(NNC_DCGAN_WITH_LABEL) as { generator: { outShape?: number[] }[] };
    network.generator[1]!.outShape = [200_000]; // 652,011,988 parameters, and it still fits 28×28 digits
    const r = await refusal(create("giant", { batchSize: 16, network }));
    expect(r.code).toBe("BAD_REQUEST");
    expect(r.issues).toContainEqual({ path: "network", message: "the network has 652,011,988 parameters; this server allows at most 50,000,000" });
    expect(r.issues!.find((i) => i.message.startsWith("one iteration at BatchSize 16 needs about"))!.message).toMatch(/this server allows 4 GiB/);
  });

  it("a network with too many layers is refused naming the count before it is resolved", async () => {
    const network = structuredClone(NNC_DCGAN_WITH_LABEL) as { generator: object[] };
    network.generator.splice(3, 0, ...Array.from({ length: 500 }, () => ({ type: "ReLU" })));
    const r = await refusal(create("deep", { batchSize: 16, network }));
    expect(r.code).toBe("BAD_REQUEST");
    expect(r.issues).toEqual([{ path: "network", message: "the network has 531 layers (generator 515, discriminator 16); this server allows at most 200" }]);
  });

  it("nothing was created for the refused ones, and the server still answers", async () => {
    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true);
    const runs = (await server.store.listRuns(sessionId)).map((r: { name: string }) => r.name);
    expect(runs).toEqual(["batch 32"]);
  });
});
