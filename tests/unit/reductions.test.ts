/**
 * The two-stage Sum and Mean (lib/gan/backends/reductions.ts) that GPU backends use, checked on the cpu backend
 * (the wrapper only calls the backend's own Reshape, Sum and Mean): same values, same shapes, nothing leaked.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { groupCount, registerTwoStageReductions } from "../../lib/gan/backends/reductions";

const stockSum = tf.getKernel("Sum", "cpu")!.kernelFunc;

beforeAll(async () => {
  await tf.setBackend("cpu");
  registerTwoStageReductions("cpu");
});

/** Sums over the leading `k` axes in float64, the reference. */
function reference(values: Float32Array, shape: number[], k: number, mean: boolean): number[] {
  const n = shape.slice(0, k).reduce((a, b) => a * b, 1);
  const c = values.length / n;
  const out = new Float64Array(c);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) out[j]! += values[i * c + j]!;
  return Array.from(out, (v) => (mean ? v / n : v));
}

describe("two-stage reductions", () => {
  it("are registered in place of the stock kernels", () => {
    expect(tf.getKernel("Sum", "cpu")!.kernelFunc).not.toBe(stockSum);
  });

  it("pick equal groups, or none when N has no useful divisor", () => {
    expect(groupCount(1024 * 196)).toBe(1024);
    expect(200704 % groupCount(200704)).toBe(0);
    expect(groupCount(65_537)).toBe(1); // prime
  });

  for (const [shape, k, keepDims] of [
    [[64, 28, 28, 4], 3, false],
    [[128, 14, 14, 8], 3, true],
    [[20_000, 6], 1, false],
    [[256, 512], 1, true],
  ] as [number[], number, boolean][]) {
    it(`sum and mean of ${shape.join("×")} over the first ${k} axes (keepDims ${keepDims}) match a float64 reference`, () => {
      const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) + 0.25);
      const x = tf.tensor(values, shape);
      const axes = Array.from({ length: k }, (_, i) => i);
      const before = tf.engine().backend.numDataIds();
      for (const mean of [false, true]) {
        const y = mean ? tf.mean(x, axes, keepDims) : tf.sum(x, axes, keepDims);
        expect(y.shape).toEqual(keepDims ? shape.map((d, i) => (i < k ? 1 : d)) : shape.slice(k));
        const got = Array.from(y.dataSync());
        const want = reference(values, shape, k, mean);
        const scale = mean ? 1 : shape.slice(0, k).reduce((a, b) => a * b, 1);
        got.forEach((v, i) => {
          expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5 * scale);
        });
        y.dispose();
      }
      expect(tf.engine().backend.numDataIds()).toBe(before);
      x.dispose();
    });
  }

  it("leave other reductions to the stock kernel (inner axes, small inputs)", () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(Array.from(tf.sum(x, 1).dataSync())).toEqual([6, 15]);
    expect(Array.from(tf.mean(x, 0).dataSync())).toEqual([2.5, 3.5, 4.5]);
    x.dispose();
  });
});
