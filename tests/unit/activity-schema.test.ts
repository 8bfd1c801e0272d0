/**
 * The activity entries' schema (lib/protocol/activity.ts): every kind of the vocabulary has its detail, each
 * writer's shape parses, a bad detail or an unknown kind is refused (the store then keeps the row as unknown).
 */
import { describe, expect, it } from "vitest";
import { ACTIVITY_KINDS, type ActivityKind } from "../../lib/gan/vocabulary";
import { type ActivityChange, ActivityChangeSchema, parseActivityChange } from "../../lib/protocol/activity";

/** One entry of each kind, as its writer records it. */
const examples: { [K in ActivityKind]: Extract<ActivityChange, { kind: K }>["detail"] } = {
  "run.created": { name: "tiny", config: { network: "small-dcgan", batchSize: 8 } },
  "run.started": {},
  "run.resumedFromCheckpoint": { checkpointIteration: 120, fromQueue: true },
  "run.queued": { ahead: 1, slots: 2 },
  "run.unqueued": { status: "idle" },
  "run.pause": {},
  "run.resume": {},
  "run.stop": {},
  "run.completed": {},
  "run.failed": { reason: "the trainer process was killed (SIGKILL)" },
  "run.error": { message: "a NaN loss" },
  "control.lrMultiplier": { scope: "Affine", param: "W", from: 1, to: 0 },
  "control.optimizer": { network: "Generator", from: { type: "Adam", alpha: 0.0002 }, to: { type: "Adam", alpha: 0.001 } },
  "collapse.alarm": { alarms: [{ rule: "coverage", epoch: 3, message: "coverage below 10 for 2 epochs" }], pausing: true },
  "member.joined": { role: "editor", from: "viewer" },
  "member.role": { memberId: "u1", member: "Max", from: "viewer", to: "editor" },
  "member.removed": { memberId: "u1", member: null, role: "editor" },
  "dataset.imported": { datasetId: "ds-1", name: "letters", count: 600, imageShape: [28, 28, 1], numLabels: 26, reused: false },
  "dataset.deleted": { datasetId: "ds-1", name: "letters" },
  "session.pauseOnCollapse": { from: false, to: true },
};

describe("the activity schema", () => {
  it("has exactly the vocabulary's kinds", () => {
    expect(ActivityChangeSchema.options.map((o) => o.shape.kind.value).sort()).toEqual([...ACTIVITY_KINDS].sort());
  });

  it.each(ACTIVITY_KINDS)("parses %s's detail as its writer records it", (kind) => {
    const parsed = parseActivityChange(kind, examples[kind]);
    expect(parsed).toEqual({ ok: true, change: { kind, detail: examples[kind] } });
  });

  it("refuses a bad detail, saying where", () => {
    const bad = parseActivityChange("control.lrMultiplier", { scope: "Affine", param: "mean", from: 1, to: "0" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problem).toMatch(/detail\.param/);
    expect(!bad.ok && bad.problem).toMatch(/detail\.to/);
    expect(parseActivityChange("run.failed", {}).ok).toBe(false);
    expect(parseActivityChange("member.role", { memberId: "u1", member: "Max", from: "viewer", to: "admin" }).ok).toBe(false);
    expect(parseActivityChange("dataset.imported", { ...examples["dataset.imported"], imageShape: [28, 28] }).ok).toBe(false);
    expect(parseActivityChange("control.lrMultiplier", null).ok).toBe(false);
  });

  it("refuses a kind the vocabulary does not name", () => {
    expect(parseActivityChange("note", {}).ok).toBe(false);
    expect(parseActivityChange("unknown", { kind: "x", json: "{}" }).ok).toBe(false);
  });

  it("keeps only the keys a kind names (the trainer's change carries its own `kind`: not stored twice)", () => {
    const parsed = parseActivityChange("control.lrMultiplier", { kind: "lrMultiplier", scope: "Affine", param: "b", from: 1, to: 0.5 });
    expect(parsed).toEqual({ ok: true, change: { kind: "control.lrMultiplier", detail: { scope: "Affine", param: "b", from: 1, to: 0.5 } } });
  });
});
