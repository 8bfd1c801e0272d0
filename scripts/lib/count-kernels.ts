/** Counts the TensorFlow.js kernels one training iteration of `model` dispatches, by kernel name. */
import * as tf from "@tensorflow/tfjs-core";
import type { GanModel } from "../../lib/gan/model";

export async function countKernels(model: GanModel, batchSize: number): Promise<{ total: number; byName: Map<string, number> }> {
  const [h, w, c] = model.imageShape;
  const batch = {
    images: new Float32Array(batchSize * h * w * c).fill(0.5),
    labels: Int32Array.from({ length: batchSize }, (_, i) => i % model.resolved.spec.numLabels),
  };
  await model.trainStep(batch, 0); // warm-up: first-call set-up is not per iteration
  const engine = tf.engine() as unknown as { runKernelFunc: (args: { kernelName?: string }) => unknown };
  const run = engine.runKernelFunc.bind(engine);
  const byName = new Map<string, number>();
  engine.runKernelFunc = (args) => {
    const name = args.kernelName ?? "(custom)";
    byName.set(name, (byName.get(name) ?? 0) + 1);
    return run(args);
  };
  try {
    await model.trainStep(batch, 1);
  } finally {
    engine.runKernelFunc = run;
  }
  return { total: [...byName.values()].reduce((a, b) => a + b, 0), byName };
}
