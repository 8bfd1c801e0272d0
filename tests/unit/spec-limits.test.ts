/**
 * Config and network-spec limits (lib/gan/limits.ts) and the schema's own bounds (lib/gan/spec.ts SPEC_BOUNDS):
 * what a server refuses before anything allocates, with messages that name the numbers.
 */
import { describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../lib/gan/config";
import {
  activationsPerImage,
  checkConfigBeforeResolve,
  checkConfigLimits,
  checkSpecSize,
  configLimitsFrom,
  countLayers,
  countParameters,
  DEFAULT_CONFIG_LIMITS,
  estimateIterationBytes,
  formatBytes,
  formatCount,
  largestBatchThatFits,
  resolveConfigSpec,
  type ConfigLimits,
} from "../../lib/gan/limits";
import { adaptSpecToData, NNC_DCGAN_WITH_LABEL, resolveSpec, SMALL_DCGAN, SPEC_BOUNDS, SpecError, type NetworkSpecInput } from "../../lib/gan/spec";
import { DEFAULT_LIMITS, loadLimits } from "../../server/limits";
import { configError, copySpec as copy, type Loose } from "../helpers/spec-fixtures";

/** The issues of a parsed Config against limits, with its spec resolved as it stands. */
function issuesOf(input: unknown, limits: ConfigLimits = DEFAULT_CONFIG_LIMITS) {
  const config = parseConfig(input);
  return checkConfigLimits(config, resolveConfigSpec(config), limits);
}

/** NNC's network with wider feature maps: 9,949,940 parameters, about 15.7 GiB at BatchSize 512. */
function wideSpec(): Loose {
  const s = copy(NNC_DCGAN_WITH_LABEL);
  s.generator[9]!.outMaps = 1024; // Deconvolution: 14×14×1024
  s.discriminator[1]!.outMaps = 2048; // Convolution_3: 14×14×2048
  return s;
}

describe("the defaults", () => {
  it("are server/limits.ts's: 1024, 200, 50 million, 4 GiB, 1024", () => {
    expect(DEFAULT_CONFIG_LIMITS).toEqual({
      maxBatchSize: 1024,
      maxLayers: 200,
      maxParameters: 50_000_000,
      maxActivationBytes: 4 * 2 ** 30,
      maxGridImages: 1024,
    });
    expect(configLimitsFrom(DEFAULT_LIMITS)).toEqual(DEFAULT_CONFIG_LIMITS);
  });

  it("follow the environment: parameters in millions, activation memory in MiB", () => {
    const limits = configLimitsFrom(
      loadLimits({
        GAN_MAX_BATCH_SIZE: "32",
        GAN_MAX_LAYERS: "40",
        GAN_MAX_PARAMETERS_M: "2",
        GAN_MAX_ACTIVATION_MB: "100",
        GAN_MAX_GRID_IMAGES: "50",
      } as unknown as NodeJS.ProcessEnv),
    );
    expect(limits).toEqual({ maxBatchSize: 32, maxLayers: 40, maxParameters: 2_000_000, maxActivationBytes: 100 * 2 ** 20, maxGridImages: 50 });
  });
});

describe("the built-in networks", () => {
  it("pass at BatchSize 64, by name and inline, and adapted to 64×64 RGB images with 10 labels", () => {
    for (const network of ["nnc-dcgan-with-label", "small-dcgan", NNC_DCGAN_WITH_LABEL, SMALL_DCGAN]) {
      expect(checkConfigBeforeResolve({ network, batchSize: 64 }, DEFAULT_CONFIG_LIMITS)).toEqual([]);
      expect(issuesOf({ network, batchSize: 64 })).toEqual([]);
    }
    for (const spec of [NNC_DCGAN_WITH_LABEL, SMALL_DCGAN]) {
      const adapted = resolveSpec(adaptSpecToData(spec, { height: 64, width: 64, channels: 3, numLabels: 10 }));
      expect(checkConfigLimits(parseConfig({ batchSize: 64 }), adapted, DEFAULT_CONFIG_LIMITS)).toEqual([]);
    }
  });

  it("count their parameters with the running statistics: NNC's 3,476,500", () => {
    expect(countParameters(resolveSpec(NNC_DCGAN_WITH_LABEL))).toBe(3_476_500);
    expect(countLayers(NNC_DCGAN_WITH_LABEL)).toEqual({ generator: 15, discriminator: 16, total: 31 });
  });

  it("are within every schema bound", () => {
    for (const spec of [NNC_DCGAN_WITH_LABEL, SMALL_DCGAN]) {
      expect(spec.generator.length).toBeLessThanOrEqual(SPEC_BOUNDS.maxPartLayers);
      expect(spec.name.length).toBeLessThanOrEqual(SPEC_BOUNDS.maxNameLength);
      expect(() => resolveSpec(spec)).not.toThrow();
    }
  });
});

describe("the activation estimate", () => {
  it("is the header's formula: 2 · (Σ generator + 2 · Σ discriminator outputs) · batch · 4 + parameters · 16", () => {
    // z 2 + 2 labels → [4]; Affine → 2×2×1; Sigmoid. Discriminator: Reshape [4], Affine [1], Sigmoid.
    const tiny: NetworkSpecInput = {
      name: "tiny",
      z: { size: 2, distribution: "uniform" },
      image: { height: 2, width: 2, channels: 1 },
      numLabels: 2,
      generator: [{ type: "ConcatLabel" }, { type: "Affine", scope: "G", outShape: [2, 2, 1] }, { type: "Sigmoid" }],
      discriminator: [{ type: "Reshape", outShape: [4] }, { type: "Affine", scope: "D", outShape: [1] }, { type: "Sigmoid" }],
      networks: SMALL_DCGAN.networks,
    };
    const r = resolveSpec(tiny);
    expect(activationsPerImage(r)).toBe(4 + 4 + 4 + 2 * (4 + 1 + 1)); // 24
    expect(countParameters(r)).toBe(4 * 4 + 4 + 4 * 1 + 1); // 25
    expect(estimateIterationBytes(r, 10)).toBe(2 * 24 * 10 * 4 + 25 * 16); // 2,320
    expect(largestBatchThatFits(r, 2320)).toBe(10);
    expect(largestBatchThatFits(r, 2319)).toBe(9);
    expect(largestBatchThatFits(r, 400)).toBe(0);
  });

  it("refuses a batch that needs too much memory and names the largest BatchSize that fits, which passes", () => {
    const network = wideSpec();
    const [issue, ...rest] = issuesOf({ network, batchSize: 512 });
    expect(rest).toEqual([]);
    expect(issue).toEqual({
      path: "network",
      message: "one iteration at BatchSize 512 needs about 15.7 GiB of activations; this server allows 4 GiB: lower BatchSize to 126 or less",
    });
    const suggested = Number(/lower BatchSize to (\d+) or less/.exec(issue!.message)![1]);
    expect(issuesOf({ network, batchSize: suggested })).toEqual([]);
    expect(issuesOf({ network, batchSize: suggested + 1 })[0]!.message).toContain(`BatchSize ${suggested + 1} needs about 4`);
    // An estimate just over the limit is not printed as the limit itself.
    expect(issuesOf({ network, batchSize: suggested + 1 })[0]!.message).toMatch(/needs about 4\.0\d+ GiB of activations; this server allows 4 GiB/);
  });

  it("says when not even BatchSize 1 fits: the parameters alone are too large", () => {
    const limits = { ...DEFAULT_CONFIG_LIMITS, maxActivationBytes: 32 * 2 ** 20 };
    const issues = issuesOf({ network: "nnc-dcgan-with-label", batchSize: 1 }, { ...limits, maxActivationBytes: 55 * 2 ** 20 });
    expect(issues).toEqual([]);
    const [issue] = issuesOf({ network: "nnc-dcgan-with-label", batchSize: 1 }, limits);
    expect(issue!.message).toBe(
      "one iteration at BatchSize 1 needs about 54.2 MiB of activations; this server allows 32 MiB: not even BatchSize 1 fits: the network's parameters alone take about 53 MiB with their gradients and Adam's moments; use a smaller network",
    );
  });
});

describe("BatchSize", () => {
  it("over the server's limit is refused before the spec is resolved, naming both numbers", () => {
    expect(checkConfigBeforeResolve({ batchSize: 4096 }, DEFAULT_CONFIG_LIMITS)).toEqual([
      { path: "batchSize", message: "BatchSize 4096 is over this server's limit of 1024" },
    ]);
    expect(issuesOf({ batchSize: 64 }, { ...DEFAULT_CONFIG_LIMITS, maxBatchSize: 32 })).toEqual([
      { path: "batchSize", message: "BatchSize 64 is over this server's limit of 32" },
    ]);
    expect(issuesOf({ batchSize: 1024 })).toEqual([]);
  });
});

describe("layers", () => {
  it("a Config with 85,000 layers is refused by parseConfig with a ConfigError that names the count", () => {
    const network = copy(NNC_DCGAN_WITH_LABEL);
    network.generator.splice(3, 0, ...Array.from({ length: 85_000 }, () => ({ type: "ReLU" })));
    const e = configError({ network });
    expect(e.issues).toEqual([{ path: "network.generator", message: "the generator has 85,015 layers; a network spec allows at most 10,000 per part" }]);
    // The server's pre-check reads the same Config before it is parsed, from the array lengths alone.
    expect(checkConfigBeforeResolve({ network }, DEFAULT_CONFIG_LIMITS)).toEqual([
      { path: "network", message: "the network has 85,031 layers (generator 85,015, discriminator 16); this server allows at most 200" },
    ]);
  });

  it("the pre-check refuses a spec within the schema's bounds but over the server's, without resolving it", () => {
    const network = copy(NNC_DCGAN_WITH_LABEL);
    // 5,000 ReLUs after the generator's Sigmoid: resolveSpec would refuse it (it must end with Sigmoid or Tanh),
    // so an issue about the layer count can only come from counting.
    network.generator.push(...Array.from({ length: 5_000 }, () => ({ type: "ReLU" })));
    const config = parseConfig({ network });
    expect(() => resolveConfigSpec(config)).toThrow(SpecError);
    expect(checkSpecSize(config.network, DEFAULT_CONFIG_LIMITS)).toEqual([
      { path: "network", message: "the network has 5,031 layers (generator 5,015, discriminator 16); this server allows at most 200" },
    ]);
    expect(checkConfigBeforeResolve(config, { ...DEFAULT_CONFIG_LIMITS, maxLayers: 10_000 })).toEqual([]);
    expect(checkSpecSize("nnc-dcgan-with-label", { ...DEFAULT_CONFIG_LIMITS, maxLayers: 1 })).toEqual([]);
  });

  it("checkConfigLimits counts them too, when it is given a resolved spec over the limit", () => {
    const network = copy(NNC_DCGAN_WITH_LABEL);
    network.generator.splice(3, 0, ...Array.from({ length: 170 }, () => ({ type: "ReLU" })));
    expect(issuesOf({ network })).toEqual([
      { path: "network", message: "the network has 201 layers (generator 185, discriminator 16); this server allows at most 200" },
    ]);
  });
});

describe("parameters", () => {
  it("a network over the limit is refused naming its parameter count and the limit", () => {
    const network = copy(NNC_DCGAN_WITH_LABEL);
    network.generator[1]!.outShape = [200_000]; // Affine: 110 → 200,000, then Affine_2: 200,010 → 3,136
    const issues = issuesOf({ network, batchSize: 16 });
    expect(issues[0]).toEqual({ path: "network", message: "the network has 652,011,988 parameters; this server allows at most 50,000,000" });
    expect(issuesOf({ network: "small-dcgan" }, { ...DEFAULT_CONFIG_LIMITS, maxParameters: 978_433 })).toEqual([
      { path: "network", message: "the network has 978,434 parameters; this server allows at most 978,433" },
    ]);
    expect(issuesOf({ network: "small-dcgan" }, { ...DEFAULT_CONFIG_LIMITS, maxParameters: 978_434 })).toEqual([]);
  });

  it("an outShape of 10^7 is refused by the schema; one of 4,000,000 (within it) by the parameter limit", () => {
    const network = copy(NNC_DCGAN_WITH_LABEL);
    network.generator[1]!.outShape = [10_000_000];
    expect(configError({ network }).issues).toEqual([
      { path: "network.generator.1.outShape.0", message: "10,000,000 is over the largest allowed value, 4,194,304" },
    ]);
    const reshaped = copy(NNC_DCGAN_WITH_LABEL);
    reshaped.discriminator[8]!.outShape = [1e7];
    expect(configError({ network: reshaped }).issues[0]!.path).toBe("network.discriminator.8.outShape.0");
    network.generator[1]!.outShape = [4_000_000];
    const issues = issuesOf({ network });
    expect(issues.map((i) => i.path)).toEqual(["network", "network"]);
    // Affine 110·4,000,000 + 4,000,000, its BatchNormalization 4 · 4,000,000, Affine_2 4,000,010·3,136 + 3,136, and the rest of NNC's.
    const rest = 3_476_500 - (110 * 512 + 512) - 4 * 512 - (522 * 3136 + 3136);
    const expected = 110 * 4e6 + 4e6 + 4 * 4e6 + (4_000_010 * 3136 + 3136) + rest;
    expect(issues[0]!.message).toBe(`the network has ${formatCount(expected)} parameters; this server allows at most 50,000,000`);
    expect(formatCount(expected)).toBe("13,005,811,988");
    expect(issues[1]!.message).toMatch(
      /^one iteration at BatchSize 64 needs about [\d.]+ GiB of activations; this server allows 4 GiB: not even BatchSize 1 fits/,
    );
  });
});

describe("the sample grid", () => {
  it("labels × sampleColumns over the limit is refused with the most columns that fit, which pass", () => {
    const many = resolveSpec(adaptSpecToData(SMALL_DCGAN, { height: 28, width: 28, channels: 1, numLabels: 200 }));
    const check = (sampleColumns: number, limits = DEFAULT_CONFIG_LIMITS) => checkConfigLimits(parseConfig({ sampleColumns }), many, limits);
    expect(check(10)).toEqual([
      {
        path: "sampleColumns",
        message: "the sample grid would hold 2,000 images (200 labels × 10 columns); this server allows at most 1,024: lower sampleColumns to 5 or less",
      },
    ]);
    expect(check(5)).toEqual([]);
    expect(check(1, { ...DEFAULT_CONFIG_LIMITS, maxGridImages: 100 })[0]!.message).toContain("not even one column of 200 labels fits");
    expect(issuesOf({ sampleColumns: 32 })).toEqual([]); // 10 labels × 32
  });
});

describe("the schema's bounds", () => {
  const refused = (mutate: (s: Loose) => void) => {
    const s = copy(SMALL_DCGAN);
    mutate(s);
    return configError({ network: s }).issues;
  };

  it("cap image sides, z, maps, kernels, strides and pads, naming the bound", () => {
    expect(refused((s) => (s.image.height = 2048))).toEqual([{ path: "network.image.height", message: "2,048 is over the largest allowed value, 1,024" }]);
    expect(refused((s) => (s.z.size = 100_000))[0]!.path).toBe("network.z.size");
    expect(refused((s) => (s.generator[4]!.outMaps = 100_000))[0]!.path).toBe("network.generator.4.outMaps");
    expect(refused((s) => (s.generator[4]!.kernel = [4, 1000]))[0]!.path).toBe("network.generator.4.kernel.1");
    expect(refused((s) => (s.generator[4]!.stride = [1000, 2]))[0]!.path).toBe("network.generator.4.stride.0");
    expect(refused((s) => (s.generator[4]!.pad = [1, 1000]))[0]!.path).toBe("network.generator.4.pad.1");
    // The ones that were valid stay valid: pad 0, stride 1.
    expect(() => parseConfig({ network: { ...copy(SMALL_DCGAN), generator: [...SMALL_DCGAN.generator] } })).not.toThrow();
  });

  it("cap strings: name, description and ParameterScope", () => {
    expect(refused((s) => (s.name = "n".repeat(201)))).toEqual([{ path: "network.name", message: "a spec's name has at most 200 characters, this one 201" }]);
    expect(refused((s) => (s.description = "d".repeat(5000)))[0]!.path).toBe("network.description");
    expect(refused((s) => (s.generator[1]!.scope = "A".repeat(101)))[0]!.message).toBe("a ParameterScope name has at most 100 characters, this one 101");
  });

  it("a Config JSON with huge arrays is refused by parseConfig with a typed ConfigError naming each", () => {
    const s = copy(SMALL_DCGAN);
    s.discriminator = Array.from({ length: 20_000 }, () => ({ type: "ReLU" }));
    s.networks = Array.from({ length: 1_000 }, () => s.networks[0]!);
    s.generator[1]!.outShape = Array.from({ length: 100_000 }, () => 7);
    const json = JSON.stringify({ batchSize: 64, network: s });
    const e = configError(JSON.parse(json));
    expect(e.message).toMatch(/^invalid config: /);
    expect(e.issues).toEqual([
      { path: "network.generator.1.outShape", message: "Too big: expected array to have <=3 items" },
      { path: "network.discriminator", message: "the discriminator has 20,000 layers; a network spec allows at most 10,000 per part" },
      { path: "network.networks", message: "a network spec lists at most 16 networks, this one 1,000" },
    ]);
  });

  it("a name that is not a built-in network still gets the Config's own message", () => {
    expect(configError({ network: "big-dcgan" }).issues.map((i) => i.path)).toEqual(["network"]);
  });
});

describe("formatting", () => {
  it("prints counts with thousands separators and bytes in GiB or MiB", () => {
    expect(formatCount(3_120_000_000)).toBe("3,120,000,000");
    expect(formatCount(999)).toBe("999");
    expect(formatBytes(4 * 2 ** 30)).toBe("4 GiB");
    expect(formatBytes(9.1 * 2 ** 30)).toBe("9.1 GiB");
    expect(formatBytes(512 * 2 ** 20)).toBe("512 MiB");
  });
});

describe("a Config as the server sees it", () => {
  it("is checked for BatchSize even when its spec is fine, and every issue carries a Config path", () => {
    const config: Config = parseConfig({ batchSize: 2048, network: "small-dcgan" });
    const issues = checkConfigLimits(config, resolveConfigSpec(config), DEFAULT_CONFIG_LIMITS);
    expect(issues.map((i) => i.path)).toEqual(["batchSize"]);
    expect(issues.every((i) => ["batchSize", "network", "sampleColumns"].includes(i.path))).toBe(true);
  });
});
