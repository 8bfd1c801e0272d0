/**
 * The built-in network specs a Config names: Neural Network Console's "DCGAN with label" sample, layer for layer,
 * and a smaller conditional DCGAN. Both are built for 28×28 gray digits with 10 labels and adapt to other data sets
 * (./adapt.ts).
 */
import type { Loss, NetworkSpecInput } from "./schema";

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
