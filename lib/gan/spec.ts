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
 *
 * This file is the public entry; each job has its file in spec/:
 *   spec/schema.ts      the zod schema: layers, losses, networks, NetworkSpec, the schema's bounds
 *   spec/resolve.ts     the resolution: the one shape walk (layer infos, parameters, scopes), SpecError
 *   spec/adapt.ts       the adaptation to a data set (adaptSpecToData, checkSpecFitsData), on the same walk
 *   spec/builtin.ts     the built-in specs: NNC's "DCGAN with label" and the small DCGAN
 *   spec/for-config.ts  which spec a Config's run trains (specForConfig)
 * TensorFlow-free: the server reads it too.
 */
export { adaptSpecToData, checkSpecFitsData, type DataShape } from "./spec/adapt";
export { BUILTIN_SPECS, type BuiltinSpecName, NNC_DCGAN_WITH_LABEL, SMALL_DCGAN } from "./spec/builtin";
export { specForConfig } from "./spec/for-config";
export { convOutSize, deconvOutSize, type LayerInfo, type ParameterDef, type ResolvedSpec, resolveSpec, SpecError } from "./spec/resolve";
export {
  type Layer,
  LayerSchema,
  type Loss,
  LossSchema,
  NETWORK_NAMES,
  type NetworkDef,
  type NetworkName,
  type NetworkSpec,
  type NetworkSpecInput,
  NetworkSpecSchema,
  type ParametricLayer,
  PARTS,
  type PartName,
  SPEC_BOUNDS,
  TRAINING_NETWORKS,
  type TrainingNetworkName,
} from "./spec/schema";
