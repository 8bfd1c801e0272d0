/**
 * The network spec (lib/gan/spec.ts): the shape walk of NNC's "DCGAN with label" and the small DCGAN, with NNC's
 * ParameterScope names and exact parameter shapes, and the rejections, each naming where the spec went wrong.
 * Pure shape walks: no tensors.
 */
import { describe, it, expect } from "vitest";
import {
  NNC_DCGAN_WITH_LABEL,
  SMALL_DCGAN,
  SpecError,
  adaptSpecToData,
  checkSpecFitsData,
  convOutSize,
  deconvOutSize,
  resolveSpec,
  type NetworkSpecInput,
} from "../../lib/gan/spec";
import { copySpec as copy, specError } from "../helpers/spec-fixtures";

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe("NNC's DCGAN with label", () => {
  const r = resolveSpec(NNC_DCGAN_WITH_LABEL);
  const shapeOf = (scope: string, name: string) => r.parameters.find((p) => p.scope === scope && p.name === name)?.shape;

  it("keeps NNC's ParameterScope names, in order, each owned by its part", () => {
    expect(r.scopes.map((s) => s.scope)).toEqual([
      "Affine",
      "BatchNormalization",
      "Affine_2",
      "BatchNormalization_2",
      "Deconvolution",
      "BatchNormalization_3",
      "Deconvolution_2",
      "Convolution_3",
      "BatchNormalization_4",
      "Convolution_4",
      "BatchNormalization_5",
      "Affine_3",
      "BatchNormalization_6",
      "Affine_4",
    ]);
    // The generator's come first: the first seven.
    expect(r.scopes.filter((s) => s.part === "generator").map((s) => s.scope)).toEqual(r.scopes.slice(0, 7).map((s) => s.scope));
    expect(r.scopes.slice(7).every((s) => s.part === "discriminator")).toBe(true);
    expect(r.scopes.find((s) => s.scope === "Deconvolution_2")?.layerType).toBe("Deconvolution");
    expect(r.scopes.find((s) => s.scope === "Convolution_4")?.layerType).toBe("Convolution");
  });

  it("has NNC's parameter shapes (tfjs layouts: conv2d [kh,kw,in,out], conv2dTranspose [kh,kw,out,in])", () => {
    expect(shapeOf("Affine", "W")).toEqual([110, 512]);
    expect(shapeOf("Affine", "b")).toEqual([512]);
    expect(shapeOf("Affine_2", "W")).toEqual([522, 3136]);
    expect(shapeOf("Affine_2", "b")).toEqual([3136]);
    expect(shapeOf("Deconvolution", "W")).toEqual([6, 6, 32, 74]);
    expect(shapeOf("Deconvolution", "b")).toEqual([32]);
    expect(shapeOf("Deconvolution_2", "W")).toEqual([6, 6, 1, 42]);
    expect(shapeOf("Deconvolution_2", "b")).toEqual([1]);
    expect(shapeOf("Convolution_3", "W")).toEqual([5, 5, 11, 32]);
    expect(shapeOf("Convolution_4", "W")).toEqual([5, 5, 42, 64]);
    expect(shapeOf("Affine_3", "W")).toEqual([3146, 512]);
    expect(shapeOf("Affine_4", "W")).toEqual([522, 1]);
    expect(shapeOf("Affine_4", "b")).toEqual([1]);
    for (const [scope, c] of [
      ["BatchNormalization", 512],
      ["BatchNormalization_2", 64],
      ["BatchNormalization_3", 32],
      ["BatchNormalization_4", 32],
      ["BatchNormalization_5", 64],
      ["BatchNormalization_6", 512],
    ] as const) {
      for (const name of ["beta", "gamma", "mean", "var"]) expect(shapeOf(scope, name), `${scope}/${name}`).toEqual([c]);
    }
    // mean and var are running statistics, not trained
    const bn = r.parameters.filter((p) => p.scope === "BatchNormalization");
    expect(bn.map((p) => [p.name, p.trainable])).toEqual([
      ["beta", true],
      ["gamma", true],
      ["mean", false],
      ["var", false],
    ]);
    // fan-in, fan-out for Glorot initialisation: kh·kw·in, kh·kw·out
    expect(r.parameters.find((p) => p.scope === "Convolution_3" && p.name === "W")?.fan).toEqual([5 * 5 * 11, 5 * 5 * 32]);
    expect(r.parameters.find((p) => p.scope === "Affine_2" && p.name === "W")?.fan).toEqual([522, 3136]);
    expect(r.parameters).toHaveLength(14 * 2 + 6 * 2); // 8 W/b scopes → 16, 6 BN scopes → 24
  });

  it("walks 7×7×64 → 14×14×32 → 28×28×1 in the generator and 28×28×11 → 14×14×32 → 7×7×64 → 1 in the discriminator", () => {
    const g = r.layers.generator.map((l) => l.outShape);
    expect(g).toEqual([
      [110],
      [512],
      [512],
      [512],
      [522],
      [7, 7, 64],
      [7, 7, 64],
      [7, 7, 64],
      [7, 7, 74],
      [14, 14, 32],
      [14, 14, 32],
      [14, 14, 32],
      [14, 14, 42],
      [28, 28, 1],
      [28, 28, 1],
    ]);
    expect(r.layers.generator[0]!.inShape).toEqual([100]);
    // label planes only where the label meets a feature map
    expect(r.layers.generator.filter((l) => l.labelPlanes).map((l) => l.index)).toEqual([8, 12]);
    const d = r.layers.discriminator.map((l) => l.outShape);
    expect(d).toEqual([
      [28, 28, 11],
      [14, 14, 32],
      [14, 14, 32],
      [14, 14, 32],
      [14, 14, 42],
      [7, 7, 64],
      [7, 7, 64],
      [7, 7, 64],
      [3136],
      [3146],
      [512],
      [512],
      [512],
      [522],
      [1],
      [1],
    ]);
    expect(r.layers.discriminator[0]!.inShape).toEqual([28, 28, 1]);
    expect(r.layers.discriminator.filter((l) => l.labelPlanes).map((l) => l.index)).toEqual([0, 4]);
    expect(r.outputRange).toEqual([0, 1]);
  });

  it("has 3,476,500 parameters (3,474,068 trained), counted by hand from the shapes", () => {
    // generator: Affine 110·512+512, BN 4·512, Affine_2 522·3136+3136, BN_2 4·64,
    //            Deconvolution 6·6·32·74+32, BN_3 4·32, Deconvolution_2 6·6·1·42+1
    const generator = 56_832 + 2_048 + 1_640_128 + 256 + 85_280 + 128 + 1_513;
    // discriminator: Convolution_3 5·5·11·32+32, BN_4 4·32, Convolution_4 5·5·42·64+64, BN_5 4·64,
    //                Affine_3 3146·512+512, BN_6 4·512, Affine_4 522+1
    const discriminator = 8_832 + 128 + 67_264 + 256 + 1_611_264 + 2_048 + 523;
    expect(generator).toBe(1_786_185);
    expect(discriminator).toBe(1_690_315);
    const count = (part?: string, trainable?: boolean) =>
      r.parameters
        .filter((p) => (part === undefined || p.part === part) && (trainable === undefined || p.trainable === trainable))
        .reduce((a, p) => a + size(p.shape), 0);
    expect(count("generator")).toBe(generator);
    expect(count("discriminator")).toBe(discriminator);
    expect(count()).toBe(3_476_500);
    // running mean and var: 2·(512+64+32) in each part
    expect(count(undefined, true)).toBe(3_476_500 - 2 * 1_216);
  });

  it("defines the four networks with NNC's targets", () => {
    const nets = Object.fromEntries(r.spec.networks.map((n) => [n.name, n]));
    expect(nets.Generator).toMatchObject({ input: "noise", parts: ["generator", "discriminator"], trains: ["generator"] });
    expect(nets.Generator!.loss).toEqual({ type: "BinaryCrossEntropy", target: 1 });
    expect(nets.DiscriminatorFake!.loss).toEqual({ type: "BinaryCrossEntropy", target: 0 });
    expect(nets.DiscriminatorFake!.trains).toEqual(["discriminator"]);
    expect(nets.DiscriminatorReal).toMatchObject({ input: "data", parts: ["discriminator"], trains: ["discriminator"] });
    expect(nets.DiscriminatorReal!.loss).toEqual({ type: "BinaryCrossEntropy", target: 1 });
    expect(nets.RuntimeGenerator).toMatchObject({ input: "noise", parts: ["generator"], trains: [], loss: null });
    expect(r.spec.z).toEqual({ size: 100, distribution: "uniform" });
  });

  it("fills in layer defaults (BatchNormalization decay 0.9, ε 1e-5)", () => {
    const bn = r.spec.generator[2]!;
    expect(bn).toEqual({ type: "BatchNormalization", scope: "BatchNormalization", decayRate: 0.9, epsilon: 1e-5 });
  });
});

describe("NNC's size formulas", () => {
  it("convolution: floor((size + 2·pad − kernel) / stride) + 1", () => {
    expect(convOutSize(28, 5, 2, 2)).toBe(14);
    expect(convOutSize(14, 5, 2, 2)).toBe(7);
    expect(convOutSize(8, 3, 2, 1)).toBe(4);
    expect(convOutSize(7, 3, 2, 0)).toBe(3);
  });
  it("deconvolution: (size − 1)·stride − 2·pad + kernel", () => {
    expect(deconvOutSize(7, 6, 2, 2)).toBe(14);
    expect(deconvOutSize(14, 6, 2, 2)).toBe(28);
    expect(deconvOutSize(14, 5, 2, 2)).toBe(27);
    expect(deconvOutSize(7, 4, 2, 1)).toBe(14);
  });
});

describe("the small DCGAN", () => {
  it("resolves with a Tanh output range of [-1, 1] and its shapes", () => {
    const r = resolveSpec(SMALL_DCGAN);
    expect(r.outputRange).toEqual([-1, 1]);
    expect(r.spec.z.distribution).toBe("normal");
    expect(r.layers.generator.map((l) => l.outShape.join("×"))).toEqual([
      "110",
      "7×7×128",
      "7×7×128",
      "7×7×128",
      "14×14×64",
      "14×14×64",
      "14×14×64",
      "28×28×1",
      "28×28×1",
    ]);
    expect(r.layers.discriminator.at(-3)!.outShape).toEqual([6272]);
    const shape = (scope: string) => r.parameters.find((p) => p.scope === scope && p.name === "W")?.shape;
    expect(shape("Affine")).toEqual([110, 6272]);
    expect(shape("Deconvolution")).toEqual([4, 4, 64, 128]);
    expect(shape("Deconvolution_2")).toEqual([4, 4, 1, 64]);
    expect(shape("Convolution")).toEqual([4, 4, 11, 64]);
    expect(shape("Convolution_2")).toEqual([4, 4, 64, 128]);
    expect(shape("Affine_2")).toEqual([6272, 1]);
    expect(r.spec.discriminator[2]).toEqual({ type: "LeakyReLU", alpha: 0.2 });
  });
});

describe("rejections name where the spec goes wrong", () => {
  it("a generator whose output is not the image size: 27×27×1 for 28×28×1 images", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[13]!.kernel = [5, 5]; // Deconvolution_2: (14−1)·2 − 2·2 + 5 = 27
    const e = specError(s);
    expect(e.message).toContain("27×27×1");
    expect(e.message).toContain("28×28×1");
    expect(e.message).toMatch(/^generator layer 14 \(Deconvolution "Deconvolution_2"\): /);
    expect(e.where).toEqual({ part: "generator", layer: 13, scope: "Deconvolution_2" });
  });

  it("a Convolution after a flat input asks for a Reshape", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator.splice(5, 0, { type: "Convolution", scope: "Conv", outMaps: 4, kernel: [3, 3] });
    const e = specError(s);
    expect(e.message).toBe('generator layer 6 (Convolution "Conv"): needs a feature map H×W×C as input, got 522; add a Reshape before it');
    expect(e.where).toEqual({ part: "generator", layer: 5, scope: "Conv" });
  });

  it("a Reshape to the wrong number of values", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[8]!.outShape = [3000];
    const e = specError(s);
    expect(e.message).toBe("discriminator layer 9 (Reshape): cannot reshape 7×7×64 (3136 values) to 3000 (3000 values)");
    expect(e.where).toEqual({ part: "discriminator", layer: 8 });
  });

  it("two layers sharing a scope with different shapes", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[5]!.scope = "Affine"; // Affine_2 (522 → 3136) renamed to Affine (110 → 512)
    const e = specError(s);
    expect(e.message).toBe('generator layer 6 (Affine "Affine"): shares ParameterScope "Affine" whose W is 110×512, but this layer needs 522×3136');
    expect(e.where?.scope).toBe("Affine");
  });

  it("a scope shared between the generator and the discriminator (with other shapes)", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[14]!.scope = "Affine"; // Affine_4 (522 → 1)
    const e = specError(s);
    expect(e.message).toContain('discriminator layer 15 (Affine "Affine")');
    expect(e.message).toContain('ParameterScope "Affine"');
    expect(e.where).toEqual({ part: "discriminator", layer: 14, scope: "Affine" });
  });

  it("a training network without a loss", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks[1]!.loss = null;
    const e = specError(s);
    expect(e.message).toBe("network DiscriminatorFake has no loss: a training network needs one");
    expect(e.where).toEqual({ network: "DiscriminatorFake" });
  });

  it("a missing or duplicated network, one that trains nothing or a part it lacks, parts in the wrong order", () => {
    let s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks.pop();
    expect(specError(s).message).toBe("network RuntimeGenerator is missing");
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks.push(structuredClone(s.networks[0]!));
    expect(specError(s).message).toBe("network Generator is defined twice");
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks[0]!.trains = [];
    expect(specError(s).message).toBe("network Generator trains nothing");
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks[2]!.trains = ["generator"];
    expect(specError(s).message).toBe("network DiscriminatorReal trains the generator, which it does not contain");
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.networks[0]!.parts = ["discriminator", "generator"];
    expect(specError(s).message).toBe("network Generator with noise input must be made of generator → discriminator, got discriminator → generator");
  });

  it("an unknown layer type, an unknown layer key or an unknown spec key (strict schema)", () => {
    let s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[3] = { type: "Dropout" };
    let e = specError(s);
    expect(e.message).toMatch(/^network spec: generator\.3\.type: /);
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[3] = { type: "ReLU", alpha: 0.1 };
    e = specError(s);
    expect(e.message).toBe('network spec: generator.3: Unrecognized key: "alpha"');
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[1]!.padding = [2, 2]; // NNC's name is pad
    e = specError(s);
    expect(e.message).toBe('network spec: discriminator.1: Unrecognized key: "padding"');
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.optimizer = "Adam";
    e = specError(s);
    expect(e.message).toBe('network spec: (root): Unrecognized key: "optimizer"');
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[1]!.scope = "1st";
    expect(specError(s).message).toMatch(/^network spec: generator\.1\.scope: a ParameterScope is a name/);
  });

  it("a scope shared between generator and discriminator is rejected even when the shapes match", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[11]!.scope = "BatchNormalization"; // both are 512 wide
    const e = specError(s);
    expect(e.message).toBe(
      'discriminator layer 12 (BatchNormalization "BatchNormalization"): uses ParameterScope "BatchNormalization", which belongs to the generator; a scope is shared within one part only',
    );
  });

  it("a discriminator whose single value comes as 1×1×1 is accepted", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator.splice(15, 0, { type: "Reshape", outShape: [1, 1, 1] });
    expect(() => resolveSpec(s as unknown as NetworkSpecInput)).not.toThrow();
  });

  it("a discriminator that outputs more than one value per image", () => {
    const s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[14]!.outShape = [2]; // Affine_4
    const e = specError(s);
    expect(e.message).toBe("discriminator layer 16 (Sigmoid): the discriminator must output one value per image, got 2");
    expect(e.where).toEqual({ part: "discriminator", layer: 15 });
  });

  it("a generator that does not end with Sigmoid or Tanh, an Affine with a 2-D outShape, a kernel too big", () => {
    let s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[14] = { type: "ReLU" };
    expect(specError(s).message).toBe("generator layer 15 (ReLU): the generator must end with Sigmoid or Tanh");
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.generator[5]!.outShape = [49, 64];
    expect(specError(s).message).toBe('generator layer 6 (Affine "Affine_2"): outShape must be [units] or [H, W, C], got [49, 64]');
    s = copy(NNC_DCGAN_WITH_LABEL);
    s.discriminator[5]!.kernel = [20, 20];
    s.discriminator[5]!.pad = [0, 0];
    expect(specError(s).message).toBe('discriminator layer 6 (Convolution "Convolution_4"): a 20×20 kernel with pad 0,0 does not fit a 14×14 input');
  });
});

describe("checkSpecFitsData", () => {
  const spec = resolveSpec(NNC_DCGAN_WITH_LABEL).spec;

  it("accepts MNIST's 28×28×1 images with 10 labels", () => {
    expect(checkSpecFitsData(spec, { height: 28, width: 28, channels: 1, numLabels: 10 })).toBeUndefined();
  });

  it("rejects another image size or channel count, saying both", () => {
    expect(() => checkSpecFitsData(spec, { height: 32, width: 32, channels: 3, numLabels: 10 })).toThrow(
      'network spec "nnc-dcgan-with-label" is built for 28×28×1 images, but the data set has 32×32×3',
    );
    expect(() => checkSpecFitsData(spec, { height: 28, width: 28, channels: 3, numLabels: 10 })).toThrow(SpecError);
    expect(() => checkSpecFitsData(spec, { height: 28, width: 27, channels: 1, numLabels: 10 })).toThrow("28×27×1");
  });

  it("rejects another number of labels", () => {
    expect(() => checkSpecFitsData(spec, { height: 28, width: 28, channels: 1, numLabels: 26 })).toThrow(
      'network spec "nnc-dcgan-with-label" is built for 10 labels, but the data set has 26',
    );
  });
});

describe("adaptSpecToData: the built-in specs follow the data set", () => {
  const params = (spec: NetworkSpecInput) => resolveSpec(spec).parameters;
  const shape = (spec: NetworkSpecInput, scope: string, name: string) => params(spec).find((p) => p.scope === scope && p.name === name)?.shape;

  it("returns the spec itself when the data already fits", () => {
    const s = adaptSpecToData(NNC_DCGAN_WITH_LABEL, { height: 28, width: 28, channels: 1, numLabels: 10 });
    expect(s.image).toEqual({ height: 28, width: 28, channels: 1 });
    expect(shape(s, "Affine_2", "W")).toEqual([522, 7 * 7 * 64]);
  });

  it("rebuilds NNC's sample for 32×32 RGB images and 5 labels, keeping every ParameterScope", () => {
    const s = adaptSpecToData(NNC_DCGAN_WITH_LABEL, { height: 32, width: 32, channels: 3, numLabels: 5 });
    const r = resolveSpec(s);
    expect(r.scopes.map((x) => x.scope)).toEqual(resolveSpec(NNC_DCGAN_WITH_LABEL).scopes.map((x) => x.scope));
    expect(shape(s, "Affine", "W")).toEqual([105, 512]);
    expect(shape(s, "Affine_2", "W")).toEqual([517, 8 * 8 * 64]);
    expect(shape(s, "Deconvolution_2", "W")).toEqual([6, 6, 3, 37]);
    // 32 → 16 → 8 in the discriminator, so its Reshape flattens 8·8·64.
    expect(shape(s, "Affine_3", "W")).toEqual([8 * 8 * 64 + 5, 512]);
    expect(shape(s, "Convolution_3", "W")).toEqual([5, 5, 8, 32]);
    expect(r.layers.generator.at(-1)!.outShape).toEqual([32, 32, 3]);
    expect(s.description).toMatch(/adapted to 32×32×3 images and 5 labels/);
  });

  it("rebuilds the small DCGAN for 16×16 gray images and 2 labels", () => {
    const s = adaptSpecToData(SMALL_DCGAN, { height: 16, width: 16, channels: 1, numLabels: 2 });
    expect(shape(s, "Affine", "W")).toEqual([102, 4 * 4 * 128]);
    expect(shape(s, "Affine_2", "W")).toEqual([4 * 4 * 128, 1]);
  });

  it("says why a size cannot work and which sizes would", () => {
    let err: unknown;
    try {
      adaptSpecToData(NNC_DCGAN_WITH_LABEL, { height: 30, width: 30, channels: 1, numLabels: 10 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as Error).message).toMatch(/multiples of 4; 30×30 is not: import the data set resized to 28×28 or 32×32/);
    expect(() => adaptSpecToData(NNC_DCGAN_WITH_LABEL, { height: 28, width: 28, channels: 1, numLabels: 1 })).toThrow(/2 to 1000 labels/);
    expect(() => adaptSpecToData(NNC_DCGAN_WITH_LABEL, { height: 28, width: 28, channels: 4, numLabels: 10 })).toThrow(/4 channels/);
  });
});
