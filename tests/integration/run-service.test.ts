/**
 * The run service's handling of diagnostics and collapse alarms, with a real SQLite database and a stand-in
 * trainer process (the trainer's side is tested in trainer-process.test.ts; a real collapse takes many epochs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActivityPush, DiagnosticsPush } from "../../lib/protocol/socket.js";
import type { TrainerEventMessage } from "../../lib/protocol/trainer.js";
import { openDatabase } from "../../server/db/client.js";
import { Store } from "../../server/db/store.js";
import { RunService, type Broadcaster } from "../../server/runs/service.js";
import type { GeneratorPool } from "../../server/trainer/generator-pool.js";
import type { RunProcessEvent, TrainerSupervisor } from "../../server/trainer/supervisor.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-run-service-"));
let store: Store;
let close: () => Promise<void>;
afterAll(async () => {
  await close?.();
  rmSync(tmp, { recursive: true, force: true });
});

/** A trainer process that records commands and lets the test emit its events. */
function fakeProcess() {
  const listeners = new Set<(e: RunProcessEvent) => void>();
  const commands: string[] = [];
  return {
    commands,
    emit: async (event: TrainerEventMessage) => {
      for (const l of listeners) l({ type: "event", event });
      await new Promise((r) => setTimeout(r, 100));
    },
    process: {
      on: (l: (e: RunProcessEvent) => void) => (listeners.add(l), () => listeners.delete(l)),
      pause: () => commands.push("pause"),
      resume: () => commands.push("resume"),
      stop: () => commands.push("stop"),
      shutdown: async () => ({ code: 0, signal: null, expected: true, reason: "stopped" }),
    },
  };
}

beforeAll(() => {
  const db = openDatabase(`file:${path.join(tmp, "db.sqlite")}`);
  store = new Store(db.prisma);
  close = () => db.prisma.$disconnect();
});

async function setUp(pauseOnCollapse: boolean) {
  const fake = fakeProcess();
  const pushed: { diagnostics: DiagnosticsPush[]; activity: ActivityPush[] } = { diagnostics: [], activity: [] };
  const broadcaster: Broadcaster = {
    losses: () => undefined,
    status: () => undefined,
    grid: () => undefined,
    diagnostics: (_s, p) => pushed.diagnostics.push(p),
    activity: (_s, a) => pushed.activity.push(a),
  };
  const supervisor = { start: () => fake.process } as unknown as TrainerSupervisor;
  const runs = new RunService({ store, supervisor, generators: {} as GeneratorPool, broadcaster, dataDir: tmp });
  const user = await store.createUser({ email: `u${Math.random()}@example.com`, name: "Ada", passwordHash: "x" });
  const session = await store.createSession({ name: "s", ownerId: user.id });
  await store.setPauseOnCollapse(session.id, pauseOnCollapse);
  const run = await runs.createRun({ sessionId: session.id, userId: user.id, name: "r", config: { network: "small-dcgan" } });
  await runs.start(run.id, user.id);
  return { fake, pushed, runs, run };
}

const report = (epoch: number, alarms: { rule: string; epoch: number; message: string; evidence: unknown }[]): TrainerEventMessage => ({
  type: "diagnostics",
  epoch,
  iteration: epoch * 6,
  metrics: { labelAccuracy: 0.5, coverage: alarms.length ? 1 : 10, diversity: alarms.length ? 0.01 : 0.9 },
  perClass: [],
  gradNorms: [],
  alarms,
  activeAlarms: alarms.map((a) => a.rule),
  timings: { total: 1 },
});

describe("diagnostics through the run service", () => {
  it("stores every epoch's report, pushes it, and keeps it in the run's history", async () => {
    const { fake, pushed, runs, run } = await setUp(false);
    await fake.emit(report(1, []));
    await fake.emit(report(2, []));
    expect(pushed.diagnostics.map((d) => [d.epoch, d.iteration, d.metrics.coverage])).toEqual([
      [1, 6, 10],
      [2, 12, 10],
    ]);
    const history = await runs.history(run.id);
    expect(history.diagnostics.map((d) => d.epoch)).toEqual([1, 2]);
    expect(fake.commands).toEqual([]);
  });

  it("a collapse alarm goes to the activity feed; with pause on collapse it pauses the run", async () => {
    const alarm = { rule: "coverage", epoch: 3, message: "coverage below 10 for 2 epochs", evidence: { values: [1, 1] } };
    const off = await setUp(false);
    await off.fake.emit(report(3, [alarm]));
    expect(off.pushed.activity.filter((a) => a.kind === "collapse.alarm").map((a) => a.detail)).toEqual([
      { alarms: [{ rule: "coverage", epoch: 3, message: "coverage below 10 for 2 epochs" }], pausing: false },
    ]);
    expect(off.fake.commands).toEqual([]);

    const on = await setUp(true);
    await on.fake.emit(report(3, [alarm]));
    expect(on.pushed.activity.find((a) => a.kind === "collapse.alarm")?.detail).toMatchObject({ pausing: true });
    expect(on.fake.commands).toEqual(["pause"]);
  });
});
