/**
 * The run service's handling of diagnostics and collapse alarms, of controls (the activity entry, the
 * `run:parameters` push, the parameter state in memory and rebuilt after a restart) and of its trainer queue, with a
 * real SQLite database and a stand-in trainer process (the trainer's side is tested in trainer-process.test.ts; a
 * real collapse takes many epochs).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { applyControl, CONTROL_KINDS, type ParametersPush } from "../../lib/protocol/parameters";
import type { ActivityPush, DiagnosticsPush, RunStatusPush } from "../../lib/protocol/socket";
import type { TrainerEventMessage } from "../../lib/protocol/trainer";
import { openDatabase } from "../../server/db/client";
import { Store } from "../../server/db/store";
import { DEFAULT_LIMITS } from "../../server/limits";
import { insertUnrelatedActivity } from "../helpers/activity";
import { RunService, type Broadcaster } from "../../server/runs/service";
import type { GeneratorPool } from "../../server/trainer/generator-pool";
import type { ReadyInfo, RunProcessEvent, TrainerSupervisor } from "../../server/trainer/supervisor";

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
    /** The trainer is built: what it reports about itself (`ready`). */
    ready: async (info: Omit<ReadyInfo, "v" | "type">) => {
      for (const l of listeners) l({ type: "ready", info: { v: 1, type: "ready", ...info } });
      await new Promise((r) => setTimeout(r, 100));
    },
    process: {
      on: (l: (e: RunProcessEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      // A kill ends the process as the real one does: its exit event follows, unexpected.
      kill: (signal: NodeJS.Signals) => {
        commands.push(`kill ${signal}`);
        const exit = { code: null, signal, expected: false, reason: `killed (${signal})` };
        for (const l of listeners) l({ type: "exit", exit });
      },
      pause: () => commands.push("pause"),
      resume: () => commands.push("resume"),
      stop: () => commands.push("stop"),
      setLrMultiplier: async (scope: string, param: string, value: number) => void commands.push(`lr ${scope}/${param}=${value}`),
      setOptimizer: async (network: string, settings: { alpha?: number }) => void commands.push(`alpha ${network}=${settings.alpha}`),
      // Like a real process: the exit event follows a shutdown (the service must free the trainer's slot once).
      shutdown: async () => {
        const exit = { code: 0, signal: null, expected: true, reason: "stopped" };
        for (const l of listeners) l({ type: "exit", exit });
        return exit;
      },
    },
  };
}

beforeAll(async () => {
  const db = await openDatabase(`file:${path.join(tmp, "db.sqlite")}`);
  store = new Store(db.prisma);
  close = () => db.prisma.$disconnect();
});

async function setUp(pauseOnCollapse: boolean) {
  const fake = fakeProcess();
  const pushed: { diagnostics: DiagnosticsPush[]; activity: ActivityPush[]; parameters: ParametersPush[] } = { diagnostics: [], activity: [], parameters: [] };
  const broadcaster: Broadcaster = {
    losses: () => undefined,
    status: () => undefined,
    grid: () => undefined,
    diagnostics: (_s, p) => pushed.diagnostics.push(p),
    activity: (_s, a) => pushed.activity.push(a),
    parameters: (_s, p) => pushed.parameters.push(p),
  };
  const supervisor = { start: () => fake.process } as unknown as TrainerSupervisor;
  const runs = new RunService({ store, supervisor, generators: {} as GeneratorPool, broadcaster, dataDir: tmp });
  const user = await store.createUser({ email: `u${Math.random()}@example.com`, name: "Ada", passwordHash: "x" });
  const session = await store.createSession({ name: "s", ownerId: user.id });
  await store.setPauseOnCollapse(session.id, pauseOnCollapse);
  const run = await runs.createRun({ sessionId: session.id, userId: user.id, name: "r", config: { network: "small-dcgan" } });
  await runs.start(run.id, user.id);
  return { fake, pushed, runs, run, user, broadcaster, supervisor };
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

describe("controls through the run service", () => {
  const adam = (alpha: number) => ({ type: "Adam", alpha, beta1: 0.5, beta2: 0.999, eps: 1e-8 }) as const;

  it("a change the trainer reports is recorded, pushed as run:parameters with who made it, and moves the state in memory", async () => {
    const { fake, pushed, runs, run } = await setUp(false);
    const initial = await runs.parameterState(run.id);
    expect(initial.lrMultipliers.Affine).toEqual({ W: 1, b: 1 });
    expect(initial.optimizers.Generator).toMatchObject({ type: "Adam" });
    const listRun = vi.spyOn(store, "listRunActivity");
    const list = vi.spyOn(store, "listActivity");
    try {
      const user = (await store.getRun(run.id))!.createdById;
      await runs.setLrMultiplier(run.id, user, "Affine", "W", 0);
      await fake.emit({ type: "control", iteration: 7, change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 } });
      await runs.setAlpha(run.id, user, "Generator", 0.001);
      const from = adam(initial.optimizers.Generator!.alpha);
      await fake.emit({ type: "control", iteration: 9, change: { kind: "optimizer", network: "Generator", from, to: adam(0.001) } });

      const entries = pushed.activity.filter((a) => a.kind.startsWith("control."));
      expect(entries.map((a) => [a.kind, a.detail, a.userName, a.iteration])).toEqual([
        ["control.lrMultiplier", { scope: "Affine", param: "W", from: 1, to: 0 }, "Ada", 7],
        ["control.optimizer", { network: "Generator", from: { type: "Adam", alpha: from.alpha }, to: { type: "Adam", alpha: 0.001 } }, "Ada", 9],
      ]);
      // The change itself (what the browser applies), timed like its entry.
      expect(pushed.parameters).toEqual([
        {
          runId: run.id,
          change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 },
          userName: "Ada",
          iteration: 7,
          at: entries[0]!.createdAt,
        },
        {
          runId: run.id,
          change: { kind: "optimizer", network: "Generator", from: { type: "Adam", alpha: from.alpha }, to: { type: "Adam", alpha: 0.001 } },
          userName: "Ada",
          iteration: 9,
          at: entries[1]!.createdAt,
        },
      ]);
      const state = await runs.parameterState(run.id);
      expect(state).toEqual(pushed.parameters.reduce(applyControl, initial));
      expect(state.lrMultipliers.Affine).toEqual({ W: 0, b: 1 });
      expect(state.lastChange.lrMultipliers.Affine?.W).toEqual({ userName: "Ada", iteration: 7, at: entries[0]!.createdAt });
      // Held in memory: the activity log was not read again.
      expect(listRun).not.toHaveBeenCalled();
      expect(list).not.toHaveBeenCalled();
    } finally {
      listRun.mockRestore();
      list.mockRestore();
    }
  });

  it("after a restart the state is rebuilt from the run's control entries alone, 20,000 later entries notwithstanding", async () => {
    const { fake, runs, run, user, broadcaster, supervisor } = await setUp(false);
    await runs.setLrMultiplier(run.id, user.id, "BatchNormalization", "gamma", 0.5);
    await fake.emit({ type: "control", iteration: 3, change: { kind: "lrMultiplier", scope: "BatchNormalization", param: "gamma", from: 1, to: 0.5 } });
    const before = await runs.parameterState(run.id);
    expect(await insertUnrelatedActivity(store.prisma, { sessionId: run.sessionId, runId: run.id }, 20_000)).toBe(20_000);
    // What the table used to replay (the run's latest 10,000 entries) no longer holds the change.
    expect((await store.listActivity(run.sessionId, { runId: run.id, limit: 10_000 })).some((a) => a.kind === "control.lrMultiplier")).toBe(false);
    // A new service over the same database (the server restarted): nothing in memory.
    const again = new RunService({ store, supervisor, generators: {} as GeneratorPool, broadcaster, dataDir: tmp });
    const listRun = vi.spyOn(store, "listRunActivity");
    const list = vi.spyOn(store, "listActivity");
    try {
      const rebuilt = await again.parameterState(run.id);
      expect(rebuilt).toEqual(before);
      expect(rebuilt.lrMultipliers.BatchNormalization?.gamma).toBe(0.5);
      expect(rebuilt.lastChange.lrMultipliers.BatchNormalization?.gamma).toMatchObject({ userName: "Ada", iteration: 3 });
      expect(listRun.mock.calls).toEqual([[run.id, CONTROL_KINDS]]);
      expect(list).not.toHaveBeenCalled();
      await again.parameterState(run.id);
      expect(listRun).toHaveBeenCalledTimes(1);
    } finally {
      listRun.mockRestore();
      list.mockRestore();
    }
  });

  it("what a trainer reports when it is built wins over the log (a resumed checkpoint): each difference is pushed", async () => {
    const { fake, pushed, runs, run } = await setUp(false);
    const initial = await runs.parameterState(run.id);
    const lrMultipliers = Object.fromEntries(Object.entries(initial.lrMultipliers).map(([scope, params]) => [scope, { ...params }])) as Record<
      string,
      Record<string, number>
    >;
    lrMultipliers.Affine!.b = 0;
    const optimizers = Object.fromEntries(Object.entries(initial.optimizers).map(([n, o]) => [n, adam(o.alpha)]));
    await fake.ready({
      runId: run.id,
      backend: { name: "wasm", detail: "test" },
      iteration: 60,
      iterationsPerEpoch: 6,
      totalIterations: 600,
      scopes: [],
      lrMultipliers,
      optimizers,
    });
    expect(pushed.parameters).toEqual([
      { runId: run.id, change: { kind: "lrMultiplier", scope: "Affine", param: "b", from: 1, to: 0 }, userName: null, iteration: 60, at: expect.any(String) },
    ]);
    expect((await runs.parameterState(run.id)).lrMultipliers.Affine).toEqual({ W: 1, b: 0 });
  });
});

describe("a run another process took over (cluster fencing)", () => {
  it("kills this process's trainer, drops what it held unwritten, and writes nothing more of it", async () => {
    const { fake, runs, run } = await setUp(false);
    const losses = (iteration: number): TrainerEventMessage => ({
      type: "losses",
      iteration,
      epoch: 0,
      losses: { GReal: 1, Fake: 0.5, Real: 0.5 },
      msPerIter: 10,
    });
    await fake.emit(losses(0));
    await fake.emit(losses(1));
    const stored = async () => (await store.prisma.metricPoint.findMany({ where: { runId: run.id } })).map((p) => p.iteration);
    expect(await stored()).toEqual([0, 1]);
    // The other process marked it interrupted meanwhile (and might have resumed it).
    await store.updateRun(run.id, { status: "interrupted" });
    // A point buffered but not yet written is dropped with the rest.
    void fake.emit(losses(2));
    expect(runs.fence(run.id)).toBe(true);
    expect(fake.commands).toContain("kill SIGKILL");
    expect(runs.hereIds()).not.toContain(run.id);
    await fake.emit(losses(3)); // a last event in flight from the dying trainer
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored()).toEqual([0, 1]);
    // Its unexpected exit did not mark the other process's run failed.
    expect((await store.getRun(run.id))?.status).toBe("interrupted");
    expect(runs.fence(run.id)).toBe(false);
  });
});

describe("the trainer queue through the run service", () => {
  it("queues past the server's slots, starts the head when a released trainer exits (its slot freed once), and a queued run can leave", async () => {
    const started: ReturnType<typeof fakeProcess>[] = [];
    const statuses: RunStatusPush[] = [];
    const broadcaster: Broadcaster = {
      losses: () => undefined,
      status: (_s, p) => statuses.push(p),
      grid: () => undefined,
      diagnostics: () => undefined,
      activity: () => undefined,
      parameters: () => undefined,
    };
    const supervisor = {
      start: () => {
        const fake = fakeProcess();
        started.push(fake);
        return fake.process;
      },
    } as unknown as TrainerSupervisor;
    const limits = { ...DEFAULT_LIMITS, GAN_MAX_LIVE_TRAINERS: 1, GAN_MAX_LIVE_TRAINERS_PER_SESSION: 3, GAN_MAX_QUEUED_RUNS: 2 };
    const runs = new RunService({ store, supervisor, generators: {} as GeneratorPool, broadcaster, dataDir: tmp, limits });
    const user = await store.createUser({ email: `q${Math.random()}@example.com`, name: "Ada", passwordHash: "x" });
    const session = await store.createSession({ name: "q", ownerId: user.id });
    const make = (name: string) => runs.createRun({ sessionId: session.id, userId: user.id, name, config: { network: "small-dcgan" } });
    const [a, b, c] = [await make("a"), await make("b"), await make("c")];

    expect(await runs.start(a.id, user.id)).toEqual({ queuePosition: null });
    expect(await runs.start(b.id, user.id)).toEqual({ queuePosition: 0 });
    expect(await runs.start(c.id, user.id)).toEqual({ queuePosition: 1 });
    expect(started).toHaveLength(1);
    expect(statuses.filter((s) => s.status === "queued").map((s) => [s.runId, s.queuePosition])).toEqual([
      [b.id, 0],
      [c.id, 1],
    ]);
    expect((await store.getRun(b.id))?.status).toBe("queued");
    expect((await runs.history(c.id)).run).toMatchObject({ status: "queued", queuePosition: 1 });
    await expect(runs.start(b.id, user.id)).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(runs.pause(b.id, user.id)).rejects.toThrow(/waits in the trainer queue/);

    // a's loop ends: the service releases its trainer, which then exits too; the slot frees once and b starts.
    statuses.length = 0;
    await started[0]!.emit({ type: "status", status: "stopped", iteration: 3, epoch: 0, backend: "wasm" } as TrainerEventMessage);
    await new Promise((r) => setTimeout(r, 200));
    expect(started).toHaveLength(2);
    expect(runs.liveCount()).toBe(1);
    expect(statuses.filter((s) => s.runId === c.id).map((s) => s.queuePosition)).toEqual([0]);
    expect((await store.getRun(b.id))?.status).toBe("idle"); // until its trainer says "running"

    // c leaves the queue: back to idle, pushed without a position.
    await runs.stop(c.id, user.id);
    expect((await store.getRun(c.id))?.status).toBe("idle");
    expect(statuses.at(-1)).toMatchObject({ runId: c.id, status: "idle" });
    expect(statuses.at(-1)).not.toHaveProperty("queuePosition");
    expect(runs.queuedCount()).toBe(0);
  });
});
