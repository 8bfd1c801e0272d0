/**
 * The vocabulary's limits (lib/gan/vocabulary.ts) where they are checked without a trainer: α per solver and the
 * LRateMultiplier range in the Config, the trainer protocol's commands, and the socket's join version. The engine's
 * own refusals live (a Trainer on wasm) are in tests/integration/trainer.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../lib/gan/config";
import { ALPHA_MAX, ALPHA_MAX_ANY, LR_MULTIPLIER, PARAMETER_NAMES, SOLVERS } from "../../lib/gan/vocabulary";
import { JoinSchema, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { TRAINER_PROTOCOL_VERSION, TrainerCommandSchema } from "../../lib/protocol/trainer";

function configIssues(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected the Config to be refused");
}

const v = TRAINER_PROTOCOL_VERSION;

describe("α per solver in the Config", () => {
  it("refuses α 2 for an Adam network, saying the solver's limit", () => {
    expect(configIssues({ optimizers: { Generator: { type: "Adam", alpha: 2 } } })).toEqual([
      { path: "optimizers.Generator.alpha", message: "Adam's α is at most 1, got 2" },
    ]);
  });

  it("takes α 5 for Sgd and Momentum, and each solver's ALPHA_MAX exactly", () => {
    const c = parseConfig({ optimizers: { Generator: { type: "Sgd", alpha: 5 }, DiscriminatorFake: { type: "Momentum", alpha: 5 } } });
    expect(c.optimizers.Generator).toEqual({ type: "Sgd", alpha: 5 });
    expect(c.optimizers.DiscriminatorFake).toMatchObject({ type: "Momentum", alpha: 5 });
    for (const type of SOLVERS)
      expect(parseConfig({ optimizers: { DiscriminatorReal: { type, alpha: ALPHA_MAX[type] } } }).optimizers.DiscriminatorReal.alpha).toBe(ALPHA_MAX[type]);
    expect(configIssues({ optimizers: { DiscriminatorReal: { type: "Sgd", alpha: 10.5 } } })).toEqual([
      { path: "optimizers.DiscriminatorReal.alpha", message: "Sgd's α is at most 10, got 10.5" },
    ]);
    expect(ALPHA_MAX_ANY).toBe(10);
  });
});

describe("LRateMultipliers", () => {
  it("are 0 to 100 in the Config", () => {
    expect(parseConfig({ lrMultipliers: { Affine: { W: LR_MULTIPLIER.max, b: LR_MULTIPLIER.min } } }).lrMultipliers).toEqual({ Affine: { W: 100, b: 0 } });
    expect(configIssues({ lrMultipliers: { Affine: { W: 101 } } })).toEqual([
      { path: "lrMultipliers.Affine.W", message: "LRateMultiplier must be a number from 0 to 100 (0 freezes the parameter), got 101" },
    ]);
    // A statistic has no LRateMultiplier: the key is refused.
    expect(configIssues({ lrMultipliers: { Affine: { mean: 1 } } }).map((i) => i.path)).toEqual(["lrMultipliers.Affine"]);
  });

  it("are 0 to 100 in the trainer protocol: 101 is refused before it reaches a trainer", () => {
    const command = (value: number) => TrainerCommandSchema.safeParse({ v, type: "setLrMultiplier", requestId: "r1", scope: "Affine", param: "W", value });
    expect(command(100).success).toBe(true);
    expect(command(0).success).toBe(true);
    const refused = command(101);
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["value", "LRateMultiplier must be a number from 0 to 100 (0 freezes the parameter), got 101"],
    ]);
    expect(command(-1).success).toBe(false);
    expect(command(Number.NaN).success).toBe(false);
  });

  it("name the vocabulary's parameters", () => {
    expect(PARAMETER_NAMES).toEqual(["W", "b", "beta", "gamma"]);
  });
});

describe("the trainer protocol's setOptimizer", () => {
  const command = (network: string, settings: Record<string, unknown>) =>
    TrainerCommandSchema.safeParse({ v, type: "setOptimizer", requestId: "r1", network, settings });

  it("takes α above 0 up to the largest any solver takes (the trainer checks its own solver's)", () => {
    expect(command("Generator", { alpha: 2 }).success).toBe(true);
    expect(command("Generator", { alpha: ALPHA_MAX_ANY }).success).toBe(true);
    expect(command("Generator", { alpha: ALPHA_MAX_ANY + 1 }).success).toBe(false);
    expect(command("Generator", { alpha: 0 }).success).toBe(false);
  });

  it("names only the training networks and NNC's solvers", () => {
    expect(command("RuntimeGenerator", { alpha: 0.001 }).success).toBe(false);
    expect(command("Generator", { type: "RMSprop" }).success).toBe(false);
    expect(command("DiscriminatorReal", { type: "Momentum" }).success).toBe(true);
  });
});

describe("the socket's join", () => {
  it("carries the socket protocol version", () => {
    expect(JoinSchema.safeParse({ v: SOCKET_PROTOCOL_VERSION, sessionId: "s1" }).success).toBe(true);
    expect(JoinSchema.safeParse({ sessionId: "s1" }).success).toBe(false);
    expect(JoinSchema.safeParse({ v: SOCKET_PROTOCOL_VERSION + 1, sessionId: "s1" }).success).toBe(false);
  });
});
