/**
 * The network spec: layers, shapes and ParameterScope names as data, and the four networks built from them.
 *
 * A spec has two parts, `generator` and `discriminator`, each a list of layers, and the networks that
 * compose them, as in Neural Network Console's "DCGAN with label" sample:
 *   Generator          = generator → discriminator, discriminator frozen, loss against 1 ("GReal")
 *   DiscriminatorFake  = generator → discriminator, generator frozen, loss against 0 ("Fake")
 *   DiscriminatorReal  = data → discriminator, loss against 1 ("Real")
 *   RuntimeGenerator   = generator alone, for inference
 * A layer with parameters names its ParameterScope; two layers naming the same scope share its parameters
 * (one store holds them, keyed by scope), which is how the four networks share weights.
 *
 * Shapes are H, W, C (TensorFlow.js order); NNC writes C, H, W. Padding is NNC's: `pad` cells on each side.
 */
import { z } from "zod";

/**
 * Bounds the schema itself enforces, so that parsing a spec (and walking its shapes) stays cheap whatever a Config
 * carries. They are generous: what a server allows is lower and set by its environment (lib/gan/limits.ts checks
 * layers, parameters, activation memory and grid size before anything allocates).
 */
export const SPEC_BOUNDS = {
  /** Layers in one part (generator or discriminator); a server's own limit for both together is lower (GAN_MAX_LAYERS). */
  maxPartLayers: 10_000,
  /** Entries of `networks` (four are needed; a few more leave room for the "defined twice" message). */
  maxNetworks: 16,
  /** Entries of a network's `parts` and `trains`. */
  maxNetworkParts: 4,
  /** Any one value of an outShape (units, H, W or C): 2^22, a 1024×1024×3 image flattened fits. */
  maxShapeValue: 4_194_304,
  /** Output maps of a Convolution or Deconvolution. */
  maxOutMaps: 16_384,
  /** Kernel, stride and pad along one axis. */
  maxKernel: 256,
  maxStride: 256,
  maxPad: 256,
  /** The noise vector z. */
  maxZSize: 10_000,
  /** Image height and width. */
  maxImageSide: 1024,
  /** Characters of a spec's name, its description and a ParameterScope name. */
  maxNameLength: 200,
  maxDescriptionLength: 4_000,
  maxScopeLength: 100,
} as const;

/** 85000 → "85,000" (locale-free). */
const thousands = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
/** The length of what a too_big issue was about, for messages that name it. */
const sizeOf = (input: unknown) => (typeof input === "string" || Array.isArray(input) ? thousands(input.length) : "too many");

/** A positive (or, with min 0, non-negative) integer at most `max`; the message names the bound. */
const boundedInt = (max: number, min: 0 | 1 = 1) =>
  (min === 1 ? z.number().int().positive() : z.number().int().min(0)).max(max, {
    error: (iss) => `${typeof iss.input === "number" ? thousands(iss.input) : String(iss.input)} is over the largest allowed value, ${thousands(max)}`,
  });
const scopeName = z
  .string()
  .max(SPEC_BOUNDS.maxScopeLength, {
    error: (iss) => `a ParameterScope name has at most ${SPEC_BOUNDS.maxScopeLength} characters, this one ${sizeOf(iss.input)}`,
  })
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, "a ParameterScope is a name of letters, digits and _ starting with a letter");
const shapeValue = boundedInt(SPEC_BOUNDS.maxShapeValue);
const outShape = z.array(shapeValue).min(1).max(3);

/** Concatenates the one-hot label: to a vector as 10 more features, to a feature map as 10 label planes. */
const ConcatLabel = z.object({ type: z.literal("ConcatLabel") }).strict();
const Affine = z
  .object({
    type: z.literal("Affine"),
    scope: scopeName,
    /** Output shape: [units] or a map [H, W, C] (NNC's OutShape, reordered). */
    outShape,
  })
  .strict();
const Convolution = z
  .object({
    type: z.literal("Convolution"),
    scope: scopeName,
    outMaps: boundedInt(SPEC_BOUNDS.maxOutMaps),
    kernel: z.tuple([boundedInt(SPEC_BOUNDS.maxKernel), boundedInt(SPEC_BOUNDS.maxKernel)]),
    stride: z.tuple([boundedInt(SPEC_BOUNDS.maxStride), boundedInt(SPEC_BOUNDS.maxStride)]).default([1, 1]),
    pad: z.tuple([boundedInt(SPEC_BOUNDS.maxPad, 0), boundedInt(SPEC_BOUNDS.maxPad, 0)]).default([0, 0]),
  })
  .strict();
const Deconvolution = Convolution.extend({ type: z.literal("Deconvolution") }).strict();
const BatchNormalization = z
  .object({
    type: z.literal("BatchNormalization"),
    scope: scopeName,
    /** NNC's DecayRate for the running mean and variance. */
    decayRate: z.number().min(0).max(1).default(0.9),
    epsilon: z.number().positive().default(1e-5),
  })
  .strict();
const ReLU = z.object({ type: z.literal("ReLU") }).strict();
const LeakyReLU = z.object({ type: z.literal("LeakyReLU"), alpha: z.number().min(0).max(1).default(0.1) }).strict();
const Sigmoid = z.object({ type: z.literal("Sigmoid") }).strict();
const Tanh = z.object({ type: z.literal("Tanh") }).strict();
const Reshape = z.object({ type: z.literal("Reshape"), outShape }).strict();

export const LayerSchema = z.discriminatedUnion("type", [
  ConcatLabel,
  Affine,
  Convolution,
  Deconvolution,
  BatchNormalization,
  ReLU,
  LeakyReLU,
  Sigmoid,
  Tanh,
  Reshape,
]);
export type Layer = z.infer<typeof LayerSchema>;
export type ParametricLayer = Extract<Layer, { scope: string }>;

export const TRAINING_NETWORKS = ["Generator", "DiscriminatorFake", "DiscriminatorReal"] as const;
export type TrainingNetworkName = (typeof TRAINING_NETWORKS)[number];
export const NETWORK_NAMES = [...TRAINING_NETWORKS, "RuntimeGenerator"] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];
export type PartName = "generator" | "discriminator";

export const LossSchema = z
  .object({
    /** BinaryCrossEntropy (NNC), SquaredError (least-squares GAN) or Hinge. */
    type: z.enum(["BinaryCrossEntropy", "SquaredError", "Hinge"]),
    /** NNC's Constant the output is compared with: 1 for real, 0 for fake. */
    target: z.union([z.literal(0), z.literal(1)]),
  })
  .strict();
export type Loss = z.infer<typeof LossSchema>;

const NetworkSchema = z
  .object({
    name: z.enum(NETWORK_NAMES),
    /** What feeds the network: noise (z and a label) or a real image from the data set. */
    input: z.enum(["noise", "data"]),
    /** Parts in order, e.g. ["generator", "discriminator"]. */
    parts: z
      .array(z.enum(["generator", "discriminator"]))
      .min(1)
      .max(SPEC_BOUNDS.maxNetworkParts),
    /** Parts whose parameters this network updates; the others are frozen in it (LRateMultiplier 0). */
    trains: z.array(z.enum(["generator", "discriminator"])).max(SPEC_BOUNDS.maxNetworkParts),
    loss: LossSchema.nullable(),
  })
  .strict();
export type NetworkDef = z.infer<typeof NetworkSchema>;

/** A part's layers: the length is checked before any layer is parsed, and the message names it. */
const partLayers = (part: PartName) =>
  z
    .array(LayerSchema)
    .min(1)
    .max(SPEC_BOUNDS.maxPartLayers, {
      error: (iss) => `the ${part} has ${sizeOf(iss.input)} layers; a network spec allows at most ${thousands(SPEC_BOUNDS.maxPartLayers)} per part`,
    });

const NetworkSpecObject = z
  .object({
    name: z
      .string()
      .min(1)
      .max(SPEC_BOUNDS.maxNameLength, { error: (iss) => `a spec's name has at most ${SPEC_BOUNDS.maxNameLength} characters, this one ${sizeOf(iss.input)}` }),
    description: z
      .string()
      .max(SPEC_BOUNDS.maxDescriptionLength, {
        error: (iss) => `a spec's description has at most ${thousands(SPEC_BOUNDS.maxDescriptionLength)} characters, this one ${sizeOf(iss.input)}`,
      })
      .default(""),
    /** Size and distribution of the generator's noise input z (NNC: Input z, Uniform -1..1). */
    z: z.object({ size: boundedInt(SPEC_BOUNDS.maxZSize), distribution: z.enum(["uniform", "normal"]) }).strict(),
    /** The image and label space the spec was built for; validated against the data set. */
    image: z
      .object({ height: boundedInt(SPEC_BOUNDS.maxImageSide), width: boundedInt(SPEC_BOUNDS.maxImageSide), channels: z.union([z.literal(1), z.literal(3)]) })
      .strict(),
    numLabels: z.number().int().min(2).max(1000),
    generator: partLayers("generator"),
    discriminator: partLayers("discriminator"),
    networks: z
      .array(NetworkSchema)
      .min(1)
      .max(SPEC_BOUNDS.maxNetworks, { error: (iss) => `a network spec lists at most ${SPEC_BOUNDS.maxNetworks} networks, this one ${sizeOf(iss.input)}` }),
  })
  .strict();
export type NetworkSpecInput = z.input<typeof NetworkSpecObject>;
export type NetworkSpec = z.infer<typeof NetworkSpecObject>;

/**
 * zod reports a too-long array or string without parsing what it holds (cheap, which is why the bounds are
 * there), but as an issue that aborts, and a union around the spec (Config's `network`: a built-in name or a whole
 * spec) then says only "Invalid input". Parsed through here, the issues of an object keep their paths and
 * messages ("network.generator: the generator has 85,000 layers; …"); what is not an object fails as before.
 */
function keepingIssues<Out, In>(schema: z.ZodType<Out, In>): z.ZodType<Out, In> {
  return z.transform((input: unknown, ctx) => {
    const parsed = schema.safeParse(input);
    if (parsed.success) return parsed.data;
    const isObject = typeof input === "object" && input !== null && !Array.isArray(input);
    for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input, ...(isObject ? { continue: true } : {}) } as never);
    return input as Out;
  }) as unknown as z.ZodType<Out, In>;
}

export const NetworkSpecSchema = keepingIssues<NetworkSpec, NetworkSpecInput>(NetworkSpecObject);

/** A spec that does not fit: the message names the part and layer where it went wrong. */
export class SpecError extends Error {
  constructor(
    message: string,
    readonly where?: { part?: PartName; layer?: number; scope?: string; network?: string },
  ) {
    super(message);
    this.name = "SpecError";
  }
}

/** The parameters a layer owns, with their shapes. BatchNormalization's mean and var are not trained. */
export interface ParameterDef {
  scope: string;
  name: "W" | "b" | "beta" | "gamma" | "mean" | "var";
  shape: number[];
  trainable: boolean;
  part: PartName;
  /** Fan-in and fan-out, for initialisation. */
  fan?: [number, number];
}

/** What the shape walk learns about every layer: its input and output shapes. */
export interface LayerInfo {
  part: PartName;
  index: number;
  layer: Layer;
  inShape: number[];
  outShape: number[];
  /** For ConcatLabel: the label is added as planes (feature map) rather than features. */
  labelPlanes?: boolean;
}

export interface ResolvedSpec {
  spec: NetworkSpec;
  layers: Record<PartName, LayerInfo[]>;
  parameters: ParameterDef[];
  /** Scope names in order of first appearance, with the part that owns each. */
  scopes: { scope: string; part: PartName; layerType: ParametricLayer["type"] }[];
  /** The generator's output range, from its last activation. */
  outputRange: [number, number];
}

function describeLayer(part: PartName, index: number, layer: Layer): string {
  const scope = "scope" in layer ? ` "${layer.scope}"` : "";
  return `${part} layer ${index + 1} (${layer.type}${scope})`;
}

const fmt = (shape: number[]) => shape.join("×");

/** Output size of a convolution along one axis, NNC's formula. */
export function convOutSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** Output size of a deconvolution along one axis, NNC's formula. */
export function deconvOutSize(size: number, kernel: number, stride: number, pad: number): number {
  return (size - 1) * stride - 2 * pad + kernel;
}

function walkPart(part: PartName, layers: Layer[], inShape: number[], numLabels: number, params: ParameterDef[], byKey: Map<string, ParameterDef> = new Map()) {
  const infos: LayerInfo[] = [];
  let shape = inShape;
  layers.forEach((layer, index) => {
    const where = describeLayer(part, index, layer);
    const fail = (msg: string): never => {
      throw new SpecError(`${where}: ${msg}`, { part, layer: index, ...("scope" in layer ? { scope: layer.scope } : {}) });
    };
    const addParam = (name: ParameterDef["name"], pshape: number[], trainable: boolean, fan?: [number, number]) => {
      if (!("scope" in layer)) return;
      // By key, not a scan: the walk stays linear in the number of layers.
      const key = `${layer.scope}/${name}`;
      const existing = byKey.get(key);
      if (existing && existing.part !== part) {
        // Sharing across generator and discriminator would let each side's network train the other's layer.
        fail(`uses ParameterScope "${layer.scope}", which belongs to the ${existing.part}; a scope is shared within one part only`);
      }
      if (existing) {
        if (fmt(existing.shape) !== fmt(pshape)) {
          fail(`shares ParameterScope "${layer.scope}" whose ${name} is ${fmt(existing.shape)}, but this layer needs ${fmt(pshape)}`);
        }
        return;
      }
      const def: ParameterDef = { scope: layer.scope, name, shape: pshape, trainable, part, ...(fan ? { fan } : {}) };
      params.push(def);
      byKey.set(key, def);
    };
    let out: number[];
    let labelPlanes: boolean | undefined;
    switch (layer.type) {
      case "ConcatLabel":
        if (shape.length === 1) out = [shape[0]! + numLabels];
        else if (shape.length === 3) {
          out = [shape[0]!, shape[1]!, shape[2]! + numLabels];
          labelPlanes = true;
        } else out = fail(`cannot concatenate a label to a ${fmt(shape)} input`);
        break;
      case "Affine": {
        const inFeatures = shape.reduce((a, b) => a * b, 1);
        const units = layer.outShape.reduce((a, b) => a * b, 1);
        if (layer.outShape.length === 2) fail(`outShape must be [units] or [H, W, C], got [${layer.outShape.join(", ")}]`);
        addParam("W", [inFeatures, units], true, [inFeatures, units]);
        addParam("b", [units], true);
        out = [...layer.outShape];
        break;
      }
      case "Convolution":
      case "Deconvolution": {
        if (shape.length !== 3) fail(`needs a feature map H×W×C as input, got ${fmt(shape)}; add a Reshape before it`);
        const [h, w, c] = shape as [number, number, number];
        const [kh, kw] = layer.kernel;
        const [sh, sw] = layer.stride;
        const [ph, pw] = layer.pad;
        const size = layer.type === "Convolution" ? convOutSize : deconvOutSize;
        const oh = size(h, kh, sh, ph);
        const ow = size(w, kw, sw, pw);
        if (oh < 1 || ow < 1) fail(`a ${kh}×${kw} kernel with pad ${ph},${pw} does not fit a ${h}×${w} input`);
        const fan: [number, number] = [kh * kw * c, kh * kw * layer.outMaps];
        // TensorFlow.js filter layouts: conv2d [kh, kw, in, out], conv2dTranspose [kh, kw, out, in].
        addParam("W", layer.type === "Convolution" ? [kh, kw, c, layer.outMaps] : [kh, kw, layer.outMaps, c], true, fan);
        addParam("b", [layer.outMaps], true);
        out = [oh, ow, layer.outMaps];
        break;
      }
      case "BatchNormalization": {
        const c = shape[shape.length - 1]!;
        addParam("beta", [c], true);
        addParam("gamma", [c], true);
        addParam("mean", [c], false);
        addParam("var", [c], false);
        out = shape;
        break;
      }
      case "Reshape": {
        const from = shape.reduce((a, b) => a * b, 1);
        const to = layer.outShape.reduce((a, b) => a * b, 1);
        if (from !== to) fail(`cannot reshape ${fmt(shape)} (${from} values) to ${fmt(layer.outShape)} (${to} values)`);
        out = [...layer.outShape];
        break;
      }
      default:
        out = shape;
    }
    infos.push({ part, index, layer, inShape: shape, outShape: out, ...(labelPlanes ? { labelPlanes } : {}) });
    shape = out;
  });
  return { infos, outShape: shape };
}

/**
 * Validates a spec and walks its shapes: every layer's input and output, every parameter with its shape.
 * Throws {@link SpecError} naming the layer when something does not fit.
 */
export function resolveSpec(input: NetworkSpecInput | NetworkSpec): ResolvedSpec {
  const parsed = NetworkSpecSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SpecError(`network spec: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const spec = parsed.data;
  const params: ParameterDef[] = [];
  const byKey = new Map<string, ParameterDef>();
  const { height, width, channels } = spec.image;
  const gen = walkPart("generator", spec.generator, [spec.z.size], spec.numLabels, params, byKey);
  if (fmt(gen.outShape) !== fmt([height, width, channels])) {
    // Name the layer that made the final shape (the last one that changed it), not a trailing activation.
    let culprit = gen.infos.length - 1;
    while (culprit > 0 && fmt(gen.infos[culprit]!.inShape) === fmt(gen.infos[culprit]!.outShape)) culprit--;
    throw new SpecError(
      `${describeLayer("generator", culprit, spec.generator[culprit]!)}: the generator outputs ${fmt(gen.outShape)}, but images are ${fmt([height, width, channels])}`,
      { part: "generator", layer: culprit, ...("scope" in spec.generator[culprit]! ? { scope: (spec.generator[culprit] as ParametricLayer).scope } : {}) },
    );
  }
  const dis = walkPart("discriminator", spec.discriminator, [height, width, channels], spec.numLabels, params, byKey);
  if (dis.outShape.reduce((a, b) => a * b, 1) !== 1) {
    const last = spec.discriminator.length - 1;
    throw new SpecError(
      `${describeLayer("discriminator", last, spec.discriminator[last]!)}: the discriminator must output one value per image, got ${fmt(dis.outShape)}`,
      { part: "discriminator", layer: last },
    );
  }
  // A scope belongs to one part (checked layer by layer in walkPart); here the case of different parameter names.
  const owner = new Map<string, PartName>();
  for (const p of params) {
    const o = owner.get(p.scope);
    if (o && o !== p.part) {
      throw new SpecError(`ParameterScope "${p.scope}" is used in both the generator and the discriminator`, { scope: p.scope });
    }
    owner.set(p.scope, p.part);
  }

  const seen = new Set<string>();
  for (const net of spec.networks) {
    const where = `network ${net.name}`;
    if (seen.has(net.name)) throw new SpecError(`${where} is defined twice`, { network: net.name });
    seen.add(net.name);
    const isTraining = (TRAINING_NETWORKS as readonly string[]).includes(net.name);
    if (isTraining && !net.loss) throw new SpecError(`${where} has no loss: a training network needs one`, { network: net.name });
    if (isTraining && net.trains.length === 0) throw new SpecError(`${where} trains nothing`, { network: net.name });
    for (const t of net.trains) {
      if (!net.parts.includes(t)) throw new SpecError(`${where} trains the ${t}, which it does not contain`, { network: net.name });
    }
    const expected: PartName[] = net.input === "data" ? ["discriminator"] : net.name === "RuntimeGenerator" ? ["generator"] : ["generator", "discriminator"];
    if (net.parts.join() !== expected.join()) {
      throw new SpecError(`${where} with ${net.input} input must be made of ${expected.join(" → ")}, got ${net.parts.join(" → ")}`, {
        network: net.name,
      });
    }
  }
  for (const name of NETWORK_NAMES) {
    if (!seen.has(name)) throw new SpecError(`network ${name} is missing`, { network: name });
  }

  const last = spec.generator[spec.generator.length - 1]!;
  const outputRange: [number, number] = last.type === "Tanh" ? [-1, 1] : [0, 1];
  if (last.type !== "Tanh" && last.type !== "Sigmoid") {
    throw new SpecError(`${describeLayer("generator", spec.generator.length - 1, last)}: the generator must end with Sigmoid or Tanh`, {
      part: "generator",
    });
  }
  const scopes: ResolvedSpec["scopes"] = [];
  const seenScopes = new Set<string>();
  for (const part of ["generator", "discriminator"] as const) {
    for (const layer of spec[part]) {
      if ("scope" in layer && !seenScopes.has(layer.scope)) {
        seenScopes.add(layer.scope);
        scopes.push({ scope: layer.scope, part, layerType: layer.type });
      }
    }
  }
  return { spec, layers: { generator: gen.infos, discriminator: dis.infos }, parameters: params, scopes, outputRange };
}

/** Checks that a spec fits a data set's images and labels; the message says what differs. */
export function checkSpecFitsData(spec: NetworkSpec, data: { height: number; width: number; channels: number; numLabels: number }) {
  const { height, width, channels } = spec.image;
  if (height !== data.height || width !== data.width || channels !== data.channels) {
    throw new SpecError(
      `network spec "${spec.name}" is built for ${fmt([height, width, channels])} images, but the data set has ${fmt([data.height, data.width, data.channels])}`,
    );
  }
  if (spec.numLabels !== data.numLabels) {
    throw new SpecError(`network spec "${spec.name}" is built for ${spec.numLabels} labels, but the data set has ${data.numLabels}`);
  }
}

/** An image shape and label count, as a data set has them. */
export interface DataShape {
  height: number;
  width: number;
  channels: number;
  numLabels: number;
}

/**
 * The spec, rebuilt for a data set's image size, channels and labels, the way a person would edit NNC's sample:
 * the Affine that makes the first feature map (7×7 in NNC's sample) gets the data's size divided by the
 * generator's upsampling (×4 there: two stride-2 Deconvolutions), the last generator layer outputs the data's
 * channels, label inputs count the data's labels, and the discriminator's Reshape follows its feature map.
 * ParameterScope names stay, so LRateMultipliers and the network view read the same. Returns the spec unchanged
 * when it already fits. Throws {@link SpecError} saying why a spec cannot adapt (e.g. a side that is not a
 * multiple of the upsampling; the message suggests sizes that work).
 */
export function adaptSpecToData(input: NetworkSpecInput | NetworkSpec, data: DataShape): NetworkSpec {
  const base = resolveSpec(input);
  const spec = base.spec;
  const target = `${data.height}×${data.width}×${data.channels}`;
  if (data.channels !== 1 && data.channels !== 3) throw new SpecError(`images with ${data.channels} channels are not supported (1 or 3)`);
  if (!Number.isInteger(data.numLabels) || data.numLabels < 2 || data.numLabels > 1000) {
    throw new SpecError(`a conditional GAN needs 2 to 1000 labels, the data set has ${data.numLabels}`);
  }
  if (spec.image.height === data.height && spec.image.width === data.width && spec.image.channels === data.channels && spec.numLabels === data.numLabels) {
    return spec;
  }
  const out: NetworkSpec = structuredClone(spec);
  out.image = { height: data.height, width: data.width, channels: data.channels as 1 | 3 };
  out.numLabels = data.numLabels;
  out.description = `${spec.description}${spec.description ? "; " : ""}adapted to ${target} images and ${data.numLabels} labels`.slice(
    -SPEC_BOUNDS.maxDescriptionLength,
  );

  // The generator: the last Affine that outputs a feature map seeds the upsampling stack after it.
  const seedIndex = out.generator
    .map((l, i) => (l.type === "Affine" && l.outShape.length === 3 ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  if (seedIndex === undefined) {
    throw new SpecError(`network spec "${spec.name}" has no Affine that makes a feature map in its generator, so it cannot adapt to ${target} images`);
  }
  const seedInfo = base.layers.generator[seedIndex]!;
  const [h0, w0] = seedInfo.outShape as [number, number, number];
  const factorH = spec.image.height / h0;
  const factorW = spec.image.width / w0;
  const fits = (side: number, f: number) => Number.isInteger(f) && f >= 1 && side % f === 0 && side / f >= 1;
  if (!fits(data.height, factorH) || !fits(data.width, factorW)) {
    const f = Number.isInteger(factorH) ? factorH : Math.round(factorH);
    const near = [Math.floor(data.height / f) * f, Math.ceil(data.height / f) * f].filter((s, i, a) => s >= f && s <= 64 && a.indexOf(s) === i);
    throw new SpecError(
      `network spec "${spec.name}" upsamples ×${f} from its ${h0}×${w0} feature map (generator layer ${seedIndex + 1}, "${(spec.generator[seedIndex] as ParametricLayer).scope}"), ` +
        `so image sides must be multiples of ${f}; ${data.height}×${data.width} is not` +
        (near.length > 0 ? `: import the data set resized to ${near.map((s) => `${s}×${s}`).join(" or ")}` : ""),
      { part: "generator", layer: seedIndex },
    );
  }
  const seed = out.generator[seedIndex] as Extract<Layer, { type: "Affine" }>;
  seed.outShape = [data.height / factorH, data.width / factorW, seed.outShape[2]!];
  const lastMaps = out.generator
    .map((l, i) => (l.type === "Deconvolution" || l.type === "Convolution" ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  if (lastMaps !== undefined && lastMaps > seedIndex) {
    (out.generator[lastMaps] as Extract<Layer, { type: "Deconvolution" | "Convolution" }>).outMaps = data.channels;
  } else {
    seed.outShape = [seed.outShape[0]!, seed.outShape[1]!, data.channels];
  }

  // The discriminator: follow the shapes and let every Reshape flatten what reaches it.
  let shape: number[] = [data.height, data.width, data.channels];
  out.discriminator.forEach((layer, index) => {
    switch (layer.type) {
      case "ConcatLabel":
        shape = shape.length === 3 ? [shape[0]!, shape[1]!, shape[2]! + data.numLabels] : [shape.reduce((a, b) => a * b, 1) + data.numLabels];
        break;
      case "Convolution":
        shape = [
          convOutSize(shape[0]!, layer.kernel[0], layer.stride[0], layer.pad[0]),
          convOutSize(shape[1]!, layer.kernel[1], layer.stride[1], layer.pad[1]),
          layer.outMaps,
        ];
        if (shape[0]! < 1 || shape[1]! < 1) {
          throw new SpecError(`network spec "${spec.name}": discriminator layer ${index + 1} (Convolution "${layer.scope}") does not fit ${target} images`, {
            part: "discriminator",
            layer: index,
          });
        }
        break;
      case "Deconvolution":
        shape = [
          deconvOutSize(shape[0]!, layer.kernel[0], layer.stride[0], layer.pad[0]),
          deconvOutSize(shape[1]!, layer.kernel[1], layer.stride[1], layer.pad[1]),
          layer.outMaps,
        ];
        break;
      case "Affine":
        shape = [...layer.outShape];
        break;
      case "Reshape":
        layer.outShape = [shape.reduce((a, b) => a * b, 1)];
        shape = layer.outShape;
        break;
      default:
        break;
    }
  });
  try {
    return resolveSpec(out).spec;
  } catch (e) {
    if (e instanceof SpecError)
      throw new SpecError(`network spec "${spec.name}" cannot adapt to ${target} images and ${data.numLabels} labels: ${e.message}`, e.where);
    throw e;
  }
}

const standardNetworks = (loss: Loss["type"]): NetworkSpecInput["networks"] => [
  { name: "Generator", input: "noise", parts: ["generator", "discriminator"], trains: ["generator"], loss: { type: loss, target: 1 } },
  { name: "DiscriminatorFake", input: "noise", parts: ["generator", "discriminator"], trains: ["discriminator"], loss: { type: loss, target: 0 } },
  { name: "DiscriminatorReal", input: "data", parts: ["discriminator"], trains: ["discriminator"], loss: { type: loss, target: 1 } },
  { name: "RuntimeGenerator", input: "noise", parts: ["generator"], trains: [], loss: null },
];

/** Neural Network Console's "DCGAN with label" sample (mnist_dcgan_with_label.sdcproj), layer for layer. */
export const NNC_DCGAN_WITH_LABEL: NetworkSpecInput = {
  name: "nnc-dcgan-with-label",
  description: 'Neural Network Console\'s "DCGAN with label" sample: Affine 512, Affine 64×7×7, Deconvolution 32 and 1 (6×6), Convolution 32/64 (5×5)',
  z: { size: 100, distribution: "uniform" },
  image: { height: 28, width: 28, channels: 1 },
  numLabels: 10,
  generator: [
    { type: "ConcatLabel" }, // z(100) + one-hot(10) -> [110]
    { type: "Affine", scope: "Affine", outShape: [512] },
    { type: "BatchNormalization", scope: "BatchNormalization" },
    { type: "ReLU" },
    { type: "ConcatLabel" }, // [522]
    { type: "Affine", scope: "Affine_2", outShape: [7, 7, 64] },
    { type: "BatchNormalization", scope: "BatchNormalization_2" },
    { type: "ReLU" },
    { type: "ConcatLabel" }, // label planes: [7, 7, 74]
    { type: "Deconvolution", scope: "Deconvolution", outMaps: 32, kernel: [6, 6], stride: [2, 2], pad: [2, 2] }, // [14, 14, 32]
    { type: "BatchNormalization", scope: "BatchNormalization_3" },
    { type: "ReLU" },
    { type: "ConcatLabel" }, // [14, 14, 42]
    { type: "Deconvolution", scope: "Deconvolution_2", outMaps: 1, kernel: [6, 6], stride: [2, 2], pad: [2, 2] }, // [28, 28, 1]
    { type: "Sigmoid" },
  ],
  discriminator: [
    { type: "ConcatLabel" }, // [28, 28, 11]
    { type: "Convolution", scope: "Convolution_3", outMaps: 32, kernel: [5, 5], stride: [2, 2], pad: [2, 2] }, // [14, 14, 32]
    { type: "BatchNormalization", scope: "BatchNormalization_4" },
    { type: "ReLU" },
    { type: "ConcatLabel" }, // [14, 14, 42]
    { type: "Convolution", scope: "Convolution_4", outMaps: 64, kernel: [5, 5], stride: [2, 2], pad: [2, 2] }, // [7, 7, 64]
    { type: "BatchNormalization", scope: "BatchNormalization_5" },
    { type: "ReLU" },
    { type: "Reshape", outShape: [3136] },
    { type: "ConcatLabel" }, // [3146]
    { type: "Affine", scope: "Affine_3", outShape: [512] },
    { type: "BatchNormalization", scope: "BatchNormalization_6" },
    { type: "ReLU" },
    { type: "ConcatLabel" }, // [522]
    { type: "Affine", scope: "Affine_4", outShape: [1] },
    { type: "Sigmoid" },
  ],
  networks: standardNetworks("BinaryCrossEntropy"),
};

/** The smaller conditional DCGAN of shared/ENVIRONMENT.md (4×4 kernels, tanh output, leaky ReLU discriminator). */
export const SMALL_DCGAN: NetworkSpecInput = {
  name: "small-dcgan",
  description: "A smaller conditional DCGAN: Affine 128×7×7, Deconvolution 64 and 1 (4×4), Convolution 64/128 (4×4), tanh output",
  z: { size: 100, distribution: "normal" },
  image: { height: 28, width: 28, channels: 1 },
  numLabels: 10,
  generator: [
    { type: "ConcatLabel" }, // [110]
    { type: "Affine", scope: "Affine", outShape: [7, 7, 128] },
    { type: "BatchNormalization", scope: "BatchNormalization" },
    { type: "ReLU" },
    { type: "Deconvolution", scope: "Deconvolution", outMaps: 64, kernel: [4, 4], stride: [2, 2], pad: [1, 1] }, // [14, 14, 64]
    { type: "BatchNormalization", scope: "BatchNormalization_2" },
    { type: "ReLU" },
    { type: "Deconvolution", scope: "Deconvolution_2", outMaps: 1, kernel: [4, 4], stride: [2, 2], pad: [1, 1] }, // [28, 28, 1]
    { type: "Tanh" },
  ],
  discriminator: [
    { type: "ConcatLabel" }, // [28, 28, 11]
    { type: "Convolution", scope: "Convolution", outMaps: 64, kernel: [4, 4], stride: [2, 2], pad: [1, 1] }, // [14, 14, 64]
    { type: "LeakyReLU", alpha: 0.2 },
    { type: "Convolution", scope: "Convolution_2", outMaps: 128, kernel: [4, 4], stride: [2, 2], pad: [1, 1] }, // [7, 7, 128]
    { type: "BatchNormalization", scope: "BatchNormalization_3" },
    { type: "LeakyReLU", alpha: 0.2 },
    { type: "Reshape", outShape: [6272] },
    { type: "Affine", scope: "Affine_2", outShape: [1] },
    { type: "Sigmoid" },
  ],
  networks: standardNetworks("BinaryCrossEntropy"),
};

export const BUILTIN_SPECS = {
  "nnc-dcgan-with-label": NNC_DCGAN_WITH_LABEL,
  "small-dcgan": SMALL_DCGAN,
} as const;
export type BuiltinSpecName = keyof typeof BUILTIN_SPECS;
