/**
 * The run Config (lib/gan/config.ts): NNC's defaults, strict keys, optimizers, inline specs and errors with paths.
 */
import { describe, it, expect } from "vitest";
import { ConfigSchema, parseConfig } from "../../lib/gan/config";
import { NNC_DCGAN_WITH_LABEL, SMALL_DCGAN, resolveSpec } from "../../lib/gan/spec";
import { configError } from "../helpers/spec-fixtures";

const NNC_ADAM = { type: "Adam", alpha: 0.0005, beta1: 0.5, beta2: 0.999, eps: 1e-8 };

describe("defaults", () => {
  it("are NNC's: MaxEpoch 100, BatchSize 64, Save Best off, Adam α 0.0005 β1 0.5 β2 0.999 ε 1e-8 for all three networks", () => {
    const c = parseConfig({});
    expect(c.maxEpoch).toBe(100);
    expect(c.batchSize).toBe(64);
    expect(c.saveBest).toBe(false);
    expect(c.optimizers).toEqual({ Generator: NNC_ADAM, DiscriminatorFake: NNC_ADAM, DiscriminatorReal: NNC_ADAM });
    expect(Object.keys(c.optimizers)).toEqual(["Generator", "DiscriminatorFake", "DiscriminatorReal"]);
    expect(c.network).toBe("nnc-dcgan-with-label");
    expect(c.dataset).toBe("mnist-bundled");
    expect(c.seed).toBe(1);
    expect(c.validationFraction).toBeCloseTo(1 / 6, 12);
    expect(c.limit).toBe(0);
    expect(c.lrMultipliers).toEqual({});
    expect(c.sampleColumns).toBe(10);
    expect(c.checkpointEvery).toBe(1);
  });

  it("are the same for undefined, null and {}", () => {
    const c = parseConfig({});
    expect(parseConfig(undefined)).toEqual(c);
    expect(parseConfig(null)).toEqual(c);
  });

  it("fill in an optimizer that is given only partly, and the networks not given", () => {
    const c = parseConfig({ optimizers: { Generator: { type: "Adam", alpha: 0.0002 } } });
    expect(c.optimizers.Generator).toEqual({ ...NNC_ADAM, alpha: 0.0002 });
    expect(c.optimizers.DiscriminatorFake).toEqual(NNC_ADAM);
    expect(c.optimizers.DiscriminatorReal).toEqual(NNC_ADAM);
  });

  it("keep values that are given", () => {
    const c = parseConfig({ maxEpoch: 3, batchSize: 16, saveBest: true, seed: 42, network: "small-dcgan", limit: 640 });
    expect(c).toMatchObject({ maxEpoch: 3, batchSize: 16, saveBest: true, seed: 42, network: "small-dcgan", limit: 640 });
  });
});

describe("optimizers", () => {
  it("Sgd and Momentum parse with their defaults", () => {
    const c = parseConfig({
      optimizers: { Generator: { type: "Sgd" }, DiscriminatorFake: { type: "Momentum" }, DiscriminatorReal: { type: "Momentum", momentum: 0.5 } },
    });
    expect(c.optimizers.Generator).toEqual({ type: "Sgd", alpha: 0.001 });
    expect(c.optimizers.DiscriminatorFake).toEqual({ type: "Momentum", alpha: 0.001, momentum: 0.9 });
    expect(c.optimizers.DiscriminatorReal).toEqual({ type: "Momentum", alpha: 0.001, momentum: 0.5 });
  });

  it("an unknown optimizer key is rejected with its path", () => {
    const e = configError({ optimizers: { Generator: { type: "Adam", lr: 0.001 } } });
    expect(e.issues).toEqual([{ path: "optimizers.Generator", message: 'Unrecognized key: "lr"' }]);
    expect(e.message).toBe('invalid config: optimizers.Generator: Unrecognized key: "lr"');
  });

  it("a key of another optimizer type is rejected (Sgd has no momentum)", () => {
    const e = configError({ optimizers: { DiscriminatorReal: { type: "Sgd", momentum: 0.9 } } });
    expect(e.issues).toEqual([{ path: "optimizers.DiscriminatorReal", message: 'Unrecognized key: "momentum"' }]);
  });

  it("an unknown network or optimizer type is rejected with its path", () => {
    expect(configError({ optimizers: { Discriminator: NNC_ADAM } }).issues).toEqual([{ path: "optimizers", message: 'Unrecognized key: "Discriminator"' }]);
    expect(configError({ optimizers: { Generator: { type: "RMSprop" } } }).issues.map((i) => i.path)).toEqual(["optimizers.Generator.type"]);
  });

  it("bad optimizer values are rejected with their paths (α ≤ 0, β1 = 1)", () => {
    const e = configError({ optimizers: { Generator: { type: "Adam", alpha: 0 }, DiscriminatorFake: { type: "Adam", beta1: 1 } } });
    expect(e.issues.map((i) => i.path)).toEqual(["optimizers.Generator.alpha", "optimizers.DiscriminatorFake.beta1"]);
  });
});

describe("strict keys and bad values", () => {
  it("an unknown top-level key is rejected, naming it", () => {
    const e = configError({ maxEpochs: 5 });
    expect(e.issues).toEqual([{ path: "(root)", message: 'Unrecognized key: "maxEpochs"' }]);
    expect(e.message).toBe('invalid config: (root): Unrecognized key: "maxEpochs"');
  });

  it("batchSize 0 is rejected with its path", () => {
    const e = configError({ batchSize: 0 });
    expect(e.issues.map((i) => i.path)).toEqual(["batchSize"]);
    expect(e.message).toMatch(/^invalid config: batchSize: /);
  });

  it("every problem is listed, each with its path", () => {
    const e = configError({ batchSize: 1.5, maxEpoch: 0, saveBest: "yes", validationFraction: 0.9 });
    expect(e.issues.map((i) => i.path).sort()).toEqual(["batchSize", "maxEpoch", "saveBest", "validationFraction"]);
    for (const i of e.issues) expect(e.message).toContain(`${i.path}: ${i.message}`);
  });

  it("an LRateMultiplier for one parameter of a scope parses (the others stay unset)", () => {
    const c = parseConfig({ lrMultipliers: { Affine: { W: 0 }, Convolution_3: { b: 0.5 } } });
    expect(c.lrMultipliers).toEqual({ Affine: { W: 0 }, Convolution_3: { b: 0.5 } });
  });

  it("defaults are fresh objects, never shared between parsed configs", () => {
    expect(parseConfig({}).optimizers.Generator).not.toBe(parseConfig({}).optimizers.Generator);
    expect(parseConfig({}).lrMultipliers).not.toBe(parseConfig({}).lrMultipliers);
  });

  it("a negative LRateMultiplier is rejected with its path", () => {
    const e = configError({ lrMultipliers: { Affine: { W: -1, b: 1, beta: 1, gamma: 1 } } });
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]!.path).toBe("lrMultipliers.Affine.W");
    expect(e.issues[0]!.message).toBe("LRateMultiplier must be a number from 0 to 100 (0 freezes the parameter), got -1");
  });

  it("a multiplier for a parameter that has none (mean) is rejected with its path", () => {
    const e = configError({ lrMultipliers: { BatchNormalization: { mean: 0, W: 1, b: 1, beta: 1, gamma: 1 } } });
    expect(e.issues).toEqual([{ path: "lrMultipliers.BatchNormalization", message: 'Unrecognized key: "mean"' }]);
  });

  it("an unknown built-in network name is rejected", () => {
    const e = configError({ network: "big-dcgan" });
    expect(e.issues.map((i) => i.path)).toEqual(["network"]);
  });
});

describe("network", () => {
  it("accepts a full inline spec and fills in its defaults", () => {
    const c = parseConfig({ network: SMALL_DCGAN });
    expect(typeof c.network).toBe("object");
    if (typeof c.network === "string") throw new Error("expected an inline spec");
    expect(c.network.name).toBe("small-dcgan");
    expect(c.network.generator[2]).toEqual({ type: "BatchNormalization", scope: "BatchNormalization", decayRate: 0.9, epsilon: 1e-5 });
    // and it still resolves
    expect(resolveSpec(c.network).outputRange).toEqual([-1, 1]);
  });

  it("accepts NNC's spec inline, equal to the built-in one once parsed", () => {
    const c = parseConfig({ network: NNC_DCGAN_WITH_LABEL });
    expect(c.network).toEqual(resolveSpec(NNC_DCGAN_WITH_LABEL).spec);
  });

  it("rejects an inline spec with an unknown layer key", () => {
    const bad = structuredClone(SMALL_DCGAN) as { generator: object[] };
    bad.generator[3] = { type: "ReLU", slope: 0 };
    const e = configError({ network: bad });
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.issues.every((i) => i.path.startsWith("network"))).toBe(true);
  });

  it("ConfigSchema is the schema parseConfig uses", () => {
    expect(ConfigSchema.parse({})).toEqual(parseConfig({}));
  });
});
