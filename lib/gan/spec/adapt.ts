/**
 * The adaptation of a network spec to a data set: whether a spec fits a data set's images and labels as it is
 * ({@link checkSpecFitsData}), and the spec rebuilt for them ({@link adaptSpecToData}), which walks the shapes with
 * the resolution's walker (./resolve.ts), so there is one shape walk.
 */
import { resolveSpec, resolveSpecWith, SpecError, fmt } from "./resolve";
import { type Layer, type NetworkSpec, type NetworkSpecInput, type ParametricLayer, SPEC_BOUNDS } from "./schema";

/** An image shape and label count, as a data set has them. */
export interface DataShape {
  height: number;
  width: number;
  channels: number;
  numLabels: number;
}

/** Checks that a spec fits a data set's images and labels; the message says what differs. */
export function checkSpecFitsData(spec: NetworkSpec, data: DataShape) {
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

  // The discriminator follows the shapes: the resolution's walk, with every Reshape flattening what reaches it.
  try {
    return resolveSpecWith(out, { flattenReshapes: "discriminator" }).spec;
  } catch (e) {
    if (e instanceof SpecError)
      throw new SpecError(`network spec "${spec.name}" cannot adapt to ${target} images and ${data.numLabels} labels: ${e.message}`, e.where);
    throw e;
  }
}
