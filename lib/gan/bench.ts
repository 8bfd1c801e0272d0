/**
 * The training benchmark: full iterations (DiscriminatorReal + DiscriminatorFake + Generator updates) of a spec
 * on synthetic data, timed one by one after a warm-up. Speed is a measurement, never a test assertion.
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseConfig } from "./config";
import { GanModel } from "./model";
import { Rng } from "./rng";
import { BUILTIN_SPECS, type BuiltinSpecName } from "./spec";

export interface BenchResult {
  backend: string;
  spec: string;
  batch: number;
  iters: number;
  imagesPerSec: number;
  msPerIter: number;
  /** Fastest and slowest timed iteration. */
  minMs: number;
  maxMs: number;
  /** Live tensors after the run minus before the first timed iteration: 0 when nothing leaks. */
  tensorsAfter: number;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function benchTrain(opts: { spec: BuiltinSpecName; batch: number; iters: number; warmup?: number; backend: string }): Promise<BenchResult> {
  const config = parseConfig({});
  const model = new GanModel(BUILTIN_SPECS[opts.spec], 1, config.optimizers);
  const [h, w, c] = model.imageShape;
  const rng = new Rng(7);
  const batch = {
    images: rng.uniform(new Float32Array(opts.batch * h * w * c), 0, 1),
    labels: Int32Array.from({ length: opts.batch }, (_, i) => i % model.resolved.spec.numLabels),
  };
  try {
    for (let i = 0; i < (opts.warmup ?? 2); i++) await model.trainStep(batch, i);
    const before = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < opts.iters; i++) {
      const t0 = performance.now();
      await model.trainStep(batch, 100 + i); // reading the losses back synchronises the step
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    return {
      backend: opts.backend,
      spec: opts.spec,
      batch: opts.batch,
      iters: opts.iters,
      imagesPerSec: (opts.batch * 1000) / ms,
      msPerIter: ms,
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      tensorsAfter: tf.memory().numTensors - before,
    };
  } finally {
    model.dispose();
  }
}

/** A plain table of results. */
export function benchTable(rows: BenchResult[]): string {
  const head = ["backend", "spec", "batch", "iters", "ms/iter (median)", "min", "max", "images/s", "tensors leaked"];
  const body = rows.map((r) => [
    r.backend,
    r.spec,
    String(r.batch),
    String(r.iters),
    r.msPerIter.toFixed(1),
    r.minMs.toFixed(1),
    r.maxMs.toFixed(1),
    r.imagesPerSec.toFixed(1),
    String(r.tensorsAfter),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}
