/**
 * applyControl (lib/protocol/parameters.ts): the one function the server's read model and the browser's cache move a
 * run's parameter state with, and the two translations between a control and its activity entry.
 */
import { describe, expect, it } from "vitest";
import { applyControl, controlActivity, controlOfActivity, type AppliedControl, type ParameterState } from "../../lib/protocol/parameters";

const state = (): ParameterState => ({
  lrMultipliers: { Affine: { W: 1, b: 1 }, BatchNormalization: { beta: 1, gamma: 1 } },
  optimizers: { Generator: { type: "Adam", alpha: 0.0002 }, DiscriminatorFake: { type: "Adam", alpha: 0.0002 } },
  lastChange: { lrMultipliers: {}, optimizers: {} },
});
const by = { userName: "Ada", iteration: 12, at: "2026-12-02T10:00:00.000Z" };

describe("applyControl", () => {
  it("sets an LRateMultiplier to what it became and says who changed it, leaving everything else as it was", () => {
    const before = state();
    const snapshot = structuredClone(before);
    const after = applyControl(before, { change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 }, ...by });
    expect(after.lrMultipliers).toEqual({ Affine: { W: 0, b: 1 }, BatchNormalization: { beta: 1, gamma: 1 } });
    expect(after.lastChange.lrMultipliers).toEqual({ Affine: { W: by } });
    expect(after.optimizers).toBe(before.optimizers);
    expect(after.lrMultipliers.BatchNormalization).toBe(before.lrMultipliers.BatchNormalization);
    expect(before).toEqual(snapshot); // never mutated (React Query's cache and the server's memory rely on it)
  });

  it("sets a network's solver and α, keeping other networks' last changes", () => {
    const first = applyControl(state(), { change: { kind: "lrMultiplier", scope: "Affine", param: "b", from: 1, to: 0.5 }, ...by });
    const change = { kind: "optimizer", network: "Generator", from: { type: "Adam", alpha: 0.0002 }, to: { type: "Adam", alpha: 0.001 } } as const;
    const after = applyControl(first, { change, userName: null, iteration: 40, at: "2026-12-02T10:01:00.000Z" });
    expect(after.optimizers.Generator).toEqual({ type: "Adam", alpha: 0.001 });
    expect(after.optimizers.DiscriminatorFake).toEqual({ type: "Adam", alpha: 0.0002 });
    expect(after.lastChange).toEqual({
      lrMultipliers: { Affine: { b: by } },
      optimizers: { Generator: { userName: null, iteration: 40, at: "2026-12-02T10:01:00.000Z" } },
    });
  });

  it("changes nothing for a parameter or network the run does not have", () => {
    const before = state();
    expect(applyControl(before, { change: { kind: "lrMultiplier", scope: "Nope", param: "W", from: 1, to: 0 }, ...by })).toBe(before);
    expect(applyControl(before, { change: { kind: "lrMultiplier", scope: "Affine", param: "gamma", from: 1, to: 0 }, ...by })).toBe(before);
    const other = { kind: "optimizer", network: "DiscriminatorReal", from: { type: "Adam", alpha: 1 }, to: { type: "Adam", alpha: 0.1 } } as const;
    expect(applyControl(before, { change: other, ...by })).toBe(before);
  });

  it("is idempotent: the same change twice is the state after it once (a change replayed after a rebuild)", () => {
    const applied: AppliedControl = { change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 }, ...by };
    const once = applyControl(state(), applied);
    expect(applyControl(once, applied)).toEqual(once);
  });

  it("replaying the activity entries of a sequence of changes gives the state the changes gave", () => {
    const changes: AppliedControl[] = [
      { change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 }, ...by },
      { change: { kind: "optimizer", network: "Generator", from: { type: "Adam", alpha: 0.0002 }, to: { type: "Adam", alpha: 0.0005 } }, ...by },
      { change: { kind: "lrMultiplier", scope: "Affine", param: "W", from: 0, to: 2 }, userName: "Bo", iteration: 20, at: "2026-12-02T10:02:00.000Z" },
    ];
    const live = changes.reduce(applyControl, state());
    const replayed = changes
      .map((c) => ({ entry: controlActivity(c.change), c }))
      .reduce((s, { entry, c }) => applyControl(s, { ...c, change: controlOfActivity(entry)! }), state());
    expect(replayed).toEqual(live);
    expect(live.lrMultipliers.Affine).toEqual({ W: 2, b: 1 });
    expect(live.lastChange.lrMultipliers.Affine?.W?.userName).toBe("Bo");
  });
});

describe("a control and its activity entry", () => {
  it("translate both ways; other kinds are no control", () => {
    const change = { kind: "lrMultiplier", scope: "Affine", param: "W", from: 1, to: 0 } as const;
    expect(controlActivity(change)).toEqual({ kind: "control.lrMultiplier", detail: { scope: "Affine", param: "W", from: 1, to: 0 } });
    expect(controlOfActivity(controlActivity(change))).toEqual(change);
    const optimizer = { kind: "optimizer", network: "DiscriminatorReal", from: { type: "Sgd", alpha: 0.1 }, to: { type: "Sgd", alpha: 0.2 } } as const;
    expect(controlOfActivity(controlActivity(optimizer))).toEqual(optimizer);
    expect(controlOfActivity({ kind: "run.pause", detail: {} })).toBeNull();
    expect(controlOfActivity({ kind: "unknown", detail: { kind: "control.lrMultiplier", json: "{}" } })).toBeNull();
  });
});
