/**
 * Which network spec a Config's run trains: the one answer the trainer, the server's checks and the limits share.
 */
import { adaptSpecToData, type DataShape } from "./adapt";
import { BUILTIN_SPECS, type BuiltinSpecName } from "./builtin";
import type { NetworkSpec } from "./schema";

/**
 * The spec a run with this Config's `network` trains on a data set of shape `data`: a built-in network adapted to
 * the data set's images and labels (as it is, for its own 28×28 digits, when `data` is not given), a whole spec as
 * it is (whether that fits the data is checkSpecFitsData's question, ./adapt.ts). Throws SpecError when a built-in network
 * cannot adapt. TensorFlow-free.
 */
export function specForConfig(config: { network: BuiltinSpecName | NetworkSpec }, data?: DataShape): NetworkSpec {
  if (typeof config.network !== "string") return config.network;
  const builtin = BUILTIN_SPECS[config.network];
  return adaptSpecToData(builtin, data ?? { ...builtin.image, numLabels: builtin.numLabels });
}
