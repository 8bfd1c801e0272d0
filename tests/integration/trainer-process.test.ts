/**
 * The trainer process and its supervisor, for real: child processes forked through tsx, training the small DCGAN
 * on the wasm backend (48 bundled digits at batch 8: 6 iterations per epoch), with checkpoints in a temp folder.
 * Processes are reused across the tests of a describe block, which run in order.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../lib/gan/config";
import type { TrainerEventMessage } from "../../lib/protocol/trainer";
import { type RunProcess, TrainerCommandError, TrainerSupervisor, lastErrorLine, type RunProcessEvent } from "../../server/trainer/supervisor";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-trainer-process-"));
const supervisor = new TrainerSupervisor({ env: { ...process.env, GAN_BACKEND: "wasm" }, replyTimeoutMs: 20_000 });
afterAll(async () => {
  for (const rp of supervisor.live()) rp.kill("SIGKILL");
  await Promise.all(supervisor.live().map((rp) => rp.exited));
  rmSync(tmp, { recursive: true, force: true });
});

const tiny = (extra: ConfigInput = {}): ConfigInput => ({
  network: "small-dcgan",
  diagnostics: false,
  batchSize: 8,
  limit: 48,
  maxEpoch: 100,
  seed: 3,
  sampleColumns: 2,
  ...extra,
});
const PNG_SIGNATURE = "89504e470d0a1a0a";
const isPng = (bytes: Uint8Array) => bytes instanceof Uint8Array && Buffer.from(bytes.subarray(0, 8)).toString("hex") === PNG_SIGNATURE;
/** Whether a process runs (a zombie that its new parent has not reaped yet counts as gone). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return process.platform !== "linux";
  }
};

type EventOf<T extends TrainerEventMessage["type"]> = Extract<TrainerEventMessage, { type: T }>;

/** Records a process's events and waits for the ones a test expects. */
class Log {
  readonly events: TrainerEventMessage[] = [];
  exits: RunProcessEvent[] = [];
  private waiters: (() => void)[] = [];

  constructor(rp: RunProcess) {
    rp.on((e) => {
      if (e.type === "event") this.events.push(e.event);
      if (e.type === "exit") this.exits.push(e);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Where the log is now: pass it as `after` to wait for events that come later. */
  get mark(): number {
    return this.events.length;
  }

  of<T extends TrainerEventMessage["type"]>(type: T, after = 0): EventOf<T>[] {
    return this.events.slice(after).filter((e): e is EventOf<T> => e.type === type);
  }

  /** The first event of `type` (from index `after`) that satisfies `pred`, waiting for it if need be. */
  async next<T extends TrainerEventMessage["type"]>(
    type: T,
    pred: (e: EventOf<T>) => boolean = () => true,
    after = 0,
    timeoutMs = 30_000,
  ): Promise<EventOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.of(type, after).find(pred);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no ${type} event after ${timeoutMs} ms; last events: ${JSON.stringify(this.events.slice(-3).map((e) => e.type))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 500);
      });
    }
  }
}

describe("invalid starts", () => {
  it("throws in the caller for a bad Config, before any process is forked", () => {
    expect(() => supervisor.start({ runId: "bad-config", config: { batchSize: -1 }, outDir: path.join(tmp, "bad") })).toThrow(/batchSize/);
    expect(supervisor.get("bad-config")).toBeUndefined();
  });

  it("a data set that does not exist: ready rejects naming the file, the process exits with code 1", async () => {
    const rp = supervisor.start({ runId: "nowhere", config: tiny({ dataset: "nowhere.csv" }), outDir: path.join(tmp, "nowhere") });
    await expect(rp.ready).rejects.toThrow(/nowhere\.csv/);
    const exit = await rp.exited;
    expect(exit).toMatchObject({ code: 1, signal: null, expected: false });
    expect(exit.reason).toMatch(/^the trainer process exited with code 1: .*nowhere\.csv/);
    expect(supervisor.get("nowhere")).toBeUndefined();
  });
});

describe("a run steered through its process", () => {
  const outDir = path.join(tmp, "steered");
  let rp: RunProcess;
  let log: Log;

  it("starts: ready on wasm, losses with consecutive iterations, a PNG sample grid and a checkpoint per epoch", async () => {
    rp = supervisor.start({ runId: "steered", config: tiny(), outDir });
    log = new Log(rp);
    expect(rp.pid).toBeGreaterThan(0);
    expect(() => supervisor.start({ runId: "steered", config: tiny(), outDir })).toThrow(/already has a trainer process/);
    const ready = await rp.ready;
    expect(ready).toMatchObject({ runId: "steered", backend: { name: "wasm" }, iteration: 0, iterationsPerEpoch: 6, totalIterations: 600 });
    expect(ready.scopes).toContainEqual({ scope: "Affine", part: "generator", layerType: "Affine" });
    expect(ready.scopes.some((s) => s.part === "discriminator")).toBe(true);
    expect(ready.lrMultipliers.Affine).toMatchObject({ W: 1 });
    expect(ready.optimizers.Generator).toMatchObject({ type: "Adam", alpha: 0.0005 });

    const ckpt = await log.next("checkpoint");
    expect(ckpt).toMatchObject({ epoch: 1, iteration: 6, kind: "latest", dir: path.join(outDir, "latest") });
    expect(existsSync(path.join(outDir, "latest", "model.json"))).toBe(true);
    expect(log.of("status")[0]).toMatchObject({ status: "running", iteration: 0, backend: "wasm" });
    expect(
      log
        .of("losses")
        .map((e) => e.iteration)
        .slice(0, 6),
    ).toEqual([0, 1, 2, 3, 4, 5]);
    for (const e of log.of("losses")) for (const x of Object.values(e.losses)) expect(Number.isFinite(x)).toBe(true);
    const grid = log.of("sampleGrid")[0]!;
    expect(grid).toMatchObject({ epoch: 1, iteration: 6, rows: 10, cols: 2, labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(isPng(grid.png)).toBe(true);
  });

  it("generates from the live weights while training goes on", async () => {
    const g = await rp.generate({ label: 7, seed: 42, count: 3 });
    const after = log.mark;
    expect(g).toMatchObject({ count: 3, width: 28, height: 28, labels: [7, 7, 7] });
    expect(g.png).toHaveLength(3);
    expect(g.png.every(isPng)).toBe(true);
    expect(isPng(g.stripPng)).toBe(true);
    const walk = await rp.generate({ label: 2, seed: 1, seedB: 2, count: 4 });
    expect(walk).toMatchObject({ count: 4, labels: [2, 2, 2, 2] });
    await expect(rp.generate({ label: 99, seed: 1 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/label/) });
    // Losses keep coming, and nothing paused the run.
    await log.next("losses", () => true, after);
    await log.next("losses", () => true, log.mark);
    expect(log.of("status").map((s) => s.status)).toEqual(["running"]);
  });

  it("answers a malformed command with BAD_REQUEST (or an error event) and keeps training", async () => {
    const bad = rp.sendRaw({ v: 1, type: "setLrMultiplier", requestId: "x", scope: 5 });
    await expect(bad).rejects.toBeInstanceOf(TrainerCommandError);
    await expect(bad).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/setLrMultiplier.*scope/) });
    const mark = log.mark;
    void rp.sendRaw({ v: 1, type: "jump" });
    expect((await log.next("error", () => true, mark)).message).toMatch(/unknown command type "jump"/);
    await log.next("losses", () => true, log.mark);
    expect(rp.alive).toBe(true);
  });

  it("pauses, takes multiplier and optimizer changes at the iteration it paused at, refuses bad ones, resumes", async () => {
    rp.pause();
    const paused = await log.next("status", (s) => s.status === "paused");
    const at = paused.iteration;
    expect(at).toBeGreaterThan(6);
    const mark = log.mark;

    await rp.setLrMultiplier("Affine", "W", 0);
    const control = await log.next("control", () => true, mark);
    expect(control).toEqual({ type: "control", iteration: at, change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 } });

    const unknown = rp.setLrMultiplier("Nowhere", "W", 0);
    await expect(unknown).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(unknown).rejects.toThrow(/unknown parameter Nowhere\/W; the ParameterScopes are Affine, .*Deconvolution/);
    await expect(rp.setLrMultiplier("Affine", "W", -1)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/from 0 to 100/) });
    await expect(rp.setLrMultiplier("Affine", "W", 101)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/from 0 to 100/) });
    await expect(rp.setOptimizer("Generator", { alpha: -1 })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/alpha/) });
    // Within the protocol's range (any solver's largest) but over the Generator's Adam's: the engine refuses it.
    await expect(rp.setOptimizer("Generator", { alpha: 2 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("Adam's α is at most 1, got 2"),
    });
    await rp.setOptimizer("Generator", { alpha: 0.0002 });
    const opt = await log.next("control", (c) => c.change.kind === "optimizer", mark);
    expect(opt).toMatchObject({ iteration: at, change: { network: "Generator", to: { alpha: 0.0002 } } });
    expect(log.of("losses", mark)).toEqual([]); // nothing trained while paused

    rp.resume();
    await log.next("status", (s) => s.status === "running", mark);
    const first = await log.next("losses", () => true, mark);
    expect(first.iteration).toBe(at);
  });

  it("writes a checkpoint on demand, between iterations, with the changes in it", async () => {
    const mark = log.mark;
    const c = await rp.checkpoint();
    expect(c.dir).toBe(path.join(outDir, "latest"));
    expect(c.bytes).toBeGreaterThan(1_000_000);
    const meta = JSON.parse(readFileSync(path.join(c.dir, "model.json"), "utf8")).userDefinedMetadata;
    expect(meta.iteration).toBe(c.iteration);
    expect(meta.lrMultipliers.Affine.W).toBe(0);
    expect(meta.solvers.Generator.settings.alpha).toBe(0.0002);
    expect(await log.next("checkpoint", (e) => e.iteration === c.iteration, mark)).toMatchObject({ kind: "latest", bytes: c.bytes });
    expect(rp.lastCheckpoint).toEqual(c);
  });

  it("stops; the finished run still generates but takes no more changes", async () => {
    rp.stop();
    const end = await rp.finished;
    expect(end).toMatchObject({ status: "stopped" });
    expect(log.of("status").at(-1)).toMatchObject({ status: "stopped" });
    const g = await rp.generate({ label: 1, seed: 5 });
    expect(g.count).toBe(1);
    expect(isPng(g.png[0]!)).toBe(true);
    await expect(rp.setLrMultiplier("Affine", "W", 1)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/stopped/) });
    expect(rp.alive).toBe(true);
  });

  it("exits when its IPC channel closes (as when the server dies)", async () => {
    rp.disconnect();
    const exit = await rp.exited;
    expect(exit).toMatchObject({ code: 0, signal: null, expected: true });
    expect(exit.reason).toMatch(/closed its channel/);
    expect(alive(rp.pid)).toBe(false);
    expect(supervisor.get("steered")).toBeUndefined();
    await expect(rp.checkpoint()).rejects.toMatchObject({ code: "EXITED" });
  });
});

describe("a crash, a resume and a graceful shutdown", () => {
  const outDir = path.join(tmp, "crash");
  let ckpt: { dir: string; iteration: number };

  it("SIGKILL mid-training: an unexpected exit naming the signal; pending requests reject with EXITED", async () => {
    const rp = supervisor.start({ runId: "crash", config: tiny(), outDir });
    const log = new Log(rp);
    await rp.ready;
    const first = await log.next("checkpoint");
    await log.next("losses", (e) => e.iteration === 7); // mid-epoch 2
    const pending = rp.generate({ label: 0, seed: 0, count: 64 });
    rp.kill("SIGKILL");
    const exit = await rp.exited;
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL", expected: false });
    expect(exit.reason).toMatch(/^the trainer process was killed by SIGKILL/);
    expect(log.exits).toHaveLength(1);
    await expect(pending).rejects.toMatchObject({ code: "EXITED" });
    await expect(rp.generate({ label: 0, seed: 0 })).rejects.toMatchObject({ code: "EXITED" });
    expect(rp.lastCheckpoint?.iteration).toBeGreaterThanOrEqual(first.iteration);
    ckpt = rp.lastCheckpoint!;
  });

  it("resumes from the last checkpoint at its iteration, then shuts down gracefully with a checkpoint", async () => {
    const rp = supervisor.start({ runId: "crash", config: tiny(), outDir, resumeFrom: ckpt.dir, paused: true });
    const log = new Log(rp);
    // Sent before the child even said hello: queued, then answered once the trainer is being built.
    await expect(rp.generate({ label: 0, seed: 0 })).rejects.toMatchObject({ code: "NOT_READY", message: expect.stringMatching(/not ready/) });
    const ready = await rp.ready;
    expect(ready.iteration).toBe(ckpt.iteration);
    expect(await log.next("status", (s) => s.status === "paused")).toMatchObject({ iteration: ckpt.iteration });
    expect(log.of("losses")).toEqual([]);
    rp.resume();
    expect((await log.next("losses")).iteration).toBe(ckpt.iteration);
    await log.next("losses", (e) => e.iteration === ckpt.iteration + 2);

    const exit = await rp.shutdown(20_000);
    expect(exit).toMatchObject({ code: 0, signal: null, expected: true });
    expect(exit.reason).toMatch(/shut down/);
    const written = log.of("checkpoint").at(-1)!;
    expect(written.iteration).toBeGreaterThanOrEqual(ckpt.iteration + 3);
    expect(rp.lastCheckpoint).toMatchObject({ iteration: written.iteration, dir: path.join(outDir, "latest") });
    const meta = JSON.parse(readFileSync(path.join(outDir, "latest", "model.json"), "utf8")).userDefinedMetadata;
    expect(meta.iteration).toBe(written.iteration);
    // Shutdown pauses first: no iteration trained after the checkpoint.
    expect(Math.max(...log.of("losses").map((e) => e.iteration))).toBe(written.iteration - 1);
  });
});

describe("exit reasons", () => {
  it("names the error line of a stderr tail, not the stack or Node's version line", () => {
    const tail = [
      "file:///x/child.ts:3",
      "    throw new Error('boom');",
      "    ^",
      "",
      "Error: boom",
      "    at file:///x/child.ts:3:11",
      "",
      "Node.js v20.20.2",
      "",
    ].join("\n");
    expect(lastErrorLine(tail)).toBe("Error: boom");
    expect(lastErrorLine("warming up\nsomething odd happened\n")).toBe("something odd happened");
    expect(lastErrorLine("")).toBeUndefined();
  });
});

describe("a server that dies", () => {
  it("takes its trainer with it (the child exits when the IPC channel closes)", async () => {
    const supervisorUrl = pathToFileURL(fileURLToPath(new URL("../../server/trainer/supervisor.ts", import.meta.url))).href;
    const parent = path.join(tmp, "parent.mts");
    writeFileSync(
      parent,
      [
        `import { TrainerSupervisor } from ${JSON.stringify(supervisorUrl)};`,
        `const rp = new TrainerSupervisor().start(${JSON.stringify({ runId: "orphan", config: tiny(), outDir: path.join(tmp, "orphan") })});`,
        `rp.ready.then(() => console.log(JSON.stringify({ child: rp.pid })));`,
        `setInterval(() => {}, 1000);`,
      ].join("\n"),
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const server = spawn(process.execPath, ["--import", tsx, parent], { env: { ...process.env, GAN_BACKEND: "wasm" }, stdio: ["ignore", "pipe", "inherit"] });
    const child = await new Promise<number>((resolve, reject) => {
      let out = "";
      server.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /"child":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.on("exit", (code) => reject(new Error(`the parent exited early (${code})`)));
    });
    expect(alive(child)).toBe(true);
    server.kill("SIGKILL");
    const deadline = Date.now() + 10_000;
    while (alive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(child)).toBe(false);
  });
});
