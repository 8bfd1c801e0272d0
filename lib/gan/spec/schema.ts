/**
 * The network spec's schema: layers, losses, networks and the whole NetworkSpec as zod schemas, with the bounds the
 * schema itself enforces. Parsing checks each field alone; how the layers fit together (shapes, scopes, the four
 * networks) is the resolution's job (./resolve.ts).
 *
 * Shapes are H, W, C (TensorFlow.js order); NNC writes C, H, W. Padding is NNC's: `pad` cells on each side.
 */
import { z } from "zod";
import { NETWORK_NAMES, PARTS, type PartName } from "../vocabulary";

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

// The networks and parts are the vocabulary's (lib/gan/vocabulary.ts); the spec's callers import them from here too.
export { NETWORK_NAMES, PARTS, TRAINING_NETWORKS, type NetworkName, type PartName, type TrainingNetworkName } from "../vocabulary";

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
    parts: z.array(z.enum(PARTS)).min(1).max(SPEC_BOUNDS.maxNetworkParts),
    /** Parts whose parameters this network updates; the others are frozen in it (LRateMultiplier 0). */
    trains: z.array(z.enum(PARTS)).max(SPEC_BOUNDS.maxNetworkParts),
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
