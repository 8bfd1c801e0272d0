/**
 * The resolution of a network spec: one walk over its layers' shapes that learns every layer's input and output,
 * every parameter with its shape (keyed by ParameterScope, so layers naming one scope share it) and the scopes in
 * order, and rejects what does not fit with a {@link SpecError} naming the part, the layer and its scope. The
 * adaptation to a data set (./adapt.ts) walks with the same walker.
 */
import {
  type Layer,
  LayerSchema,
  NETWORK_NAMES,
  type NetworkSpec,
  type NetworkSpecInput,
  NetworkSpecSchema,
  type ParametricLayer,
  PARTS,
  type PartName,
  TRAINING_NETWORKS,
} from "./schema";
import type { ParameterName } from "../vocabulary";

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
  /** A trainable parameter (PARAMETER_NAMES), or a BatchNormalization statistic (mean, var). */
  name: ParameterName | "mean" | "var";
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

/** A schema issue as a SpecError: "network spec: discriminator.8.outShape.0: …"; `at` is where the parsed value sits. */
function schemaError(issue: { path: PropertyKey[]; message: string }, at: PropertyKey[] = []): SpecError {
  return new SpecError(`network spec: ${[...at, ...issue.path].map(String).join(".") || "(root)"}: ${issue.message}`);
}

/** A shape as messages write it: "28×28×1". */
export const fmt = (shape: number[]) => shape.join("×");

/** Output size of a convolution along one axis, NNC's formula. */
export function convOutSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** Output size of a deconvolution along one axis, NNC's formula. */
export function deconvOutSize(size: number, kernel: number, stride: number, pad: number): number {
  return (size - 1) * stride - 2 * pad + kernel;
}

/**
 * How a walk treats the spec it resolves. `flattenReshapes` is the adaptation to a data set's images: every Reshape
 * of that part takes the flattened shape that reaches it, written into the (freshly parsed) spec being resolved.
 */
export interface ResolveOptions {
  flattenReshapes?: PartName;
}

/** The shape walk of one part: each layer's input and output shape, and the parameters it owns (added to `params`). */
function walkPart(
  part: PartName,
  layers: Layer[],
  inShape: number[],
  numLabels: number,
  params: ParameterDef[],
  byKey: Map<string, ParameterDef>,
  options: ResolveOptions,
) {
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
        if (options.flattenReshapes === part) {
          layer.outShape = [from];
          // Within the schema's bounds, as if the spec had been written so.
          const parsed = LayerSchema.safeParse(layer);
          if (!parsed.success) throw schemaError(parsed.error.issues[0]!, [part, index]);
        }
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
  return resolveSpecWith(input, {});
}

/** {@link resolveSpec}, walking as `options` say (the adaptation's walk: ./adapt.ts). */
export function resolveSpecWith(input: NetworkSpecInput | NetworkSpec, options: ResolveOptions): ResolvedSpec {
  const parsed = NetworkSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw schemaError(parsed.error.issues[0]!);
  }
  const spec = parsed.data;
  const params: ParameterDef[] = [];
  const byKey = new Map<string, ParameterDef>();
  const { height, width, channels } = spec.image;
  const gen = walkPart("generator", spec.generator, [spec.z.size], spec.numLabels, params, byKey, options);
  if (fmt(gen.outShape) !== fmt([height, width, channels])) {
    // Name the layer that made the final shape (the last one that changed it), not a trailing activation.
    let culprit = gen.infos.length - 1;
    while (culprit > 0 && fmt(gen.infos[culprit]!.inShape) === fmt(gen.infos[culprit]!.outShape)) culprit--;
    throw new SpecError(
      `${describeLayer("generator", culprit, spec.generator[culprit]!)}: the generator outputs ${fmt(gen.outShape)}, but images are ${fmt([height, width, channels])}`,
      { part: "generator", layer: culprit, ...("scope" in spec.generator[culprit]! ? { scope: (spec.generator[culprit] as ParametricLayer).scope } : {}) },
    );
  }
  const dis = walkPart("discriminator", spec.discriminator, [height, width, channels], spec.numLabels, params, byKey, options);
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
  for (const part of PARTS) {
    for (const layer of spec[part]) {
      if ("scope" in layer && !seenScopes.has(layer.scope)) {
        seenScopes.add(layer.scope);
        scopes.push({ scope: layer.scope, part, layerType: layer.type });
      }
    }
  }
  return { spec, layers: { generator: gen.infos, discriminator: dis.infos }, parameters: params, scopes, outputRange };
}
