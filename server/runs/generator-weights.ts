/**
 * The RuntimeGenerator's weights for a page to run them itself: the generator's part of a run's newest weights (its
 * snapshot `runtime/` or its `latest/` checkpoint, whichever is newer), as TensorFlow.js's tf.io layout — a
 * `model.json` whose manifest names one `weights-<iteration>.bin` — plus what a page needs to build the network
 * (the spec, the noise size, the labels, the output range) in its metadata. A version is its iteration: the .bin of
 * an iteration never changes (cached for good by the browser), and model.json answers 304 while the version holds.
 *
 * Read once per version and kept (the newest two per run, for a page that read model.json just before a newer
 * snapshot), at most `maxRuns` runs; no TensorFlow.js here: files and the TF-free checkpoint reader only.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ModelJsonSchema } from "../../lib/gan/checkpoint-format";
import { packWeights, unpackWeights } from "../../lib/gan/weights-file";
import { newestWeightsDir } from "../../lib/protocol/generator";
import { GENERATOR_WEIGHTS_FORMAT, type GeneratorModelJson } from "../../lib/protocol/generator-weights";

export interface GeneratorWeights {
  iteration: number;
  epoch: number;
  /** tf.io model.json, as sent. */
  modelJson: string;
  /** weights-<iteration>.bin: float32 little-endian, in the manifest's order. */
  weights: Uint8Array;
  /** Quoted, as an ETag header. */
  etag: string;
}

interface Entry {
  /** Which folder and file version this was read from. */
  source: string;
  versions: GeneratorWeights[];
  usedAt: number;
}

export class GeneratorWeightsCache {
  private readonly runs = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<GeneratorWeights | null>>();

  constructor(private readonly maxRuns = 8) {}

  /** The run's newest generator weights; null when it has none yet. */
  async current(runId: string, outDir: string): Promise<GeneratorWeights | null> {
    const key = `${runId}\u0001${outDir}`;
    const pending = this.reading.get(key);
    if (pending) return pending;
    const read = this.read(runId, outDir).finally(() => this.reading.delete(key));
    this.reading.set(key, read);
    return read;
  }

  /** A version still kept for the run (the newest or the one before), or null. */
  version(runId: string, iteration: number): GeneratorWeights | null {
    return this.runs.get(runId)?.versions.find((v) => v.iteration === iteration) ?? null;
  }

  private async read(runId: string, outDir: string): Promise<GeneratorWeights | null> {
    // A folder being replaced can be missing for a moment: ask again once.
    for (let attempt = 0; ; attempt++) {
      const found = await newestWeightsDir(outDir);
      if (!found) return null;
      const newest = { dir: found.dir, source: `${found.dir}@${found.mtimeMs}` };
      const entry = this.runs.get(runId);
      if (entry && entry.source === newest.source) {
        entry.usedAt = Date.now();
        return entry.versions[0]!;
      }
      try {
        const weights = await this.load(runId, newest.dir);
        this.remember(runId, newest.source, weights);
        return weights;
      } catch (e) {
        if (attempt >= 1) throw e;
      }
    }
  }

  private async load(runId: string, dir: string): Promise<GeneratorWeights> {
    const parsed = ModelJsonSchema.safeParse(JSON.parse(await readFile(path.join(dir, "model.json"), "utf8")));
    if (!parsed.success) throw new Error(`${dir}/model.json is not a GAN Studio checkpoint`);
    const mj = parsed.data;
    const meta = mj.userDefinedMetadata;
    const group = mj.weightsManifest[0]!;
    const all = unpackWeights(group.weights, await readFile(path.join(dir, group.paths[0]!)));
    if (!all) throw new Error(`${dir}: weights.bin does not match its model.json (being replaced?)`);
    const scopes = new Set(meta.runtimeGenerator.scopes);
    const tensors = group.weights
      .filter((w) => scopes.has(w.name.slice(0, w.name.lastIndexOf("/"))))
      .map((w) => ({ name: w.name, shape: w.shape, values: all.get(w.name)!.values }));
    const packed = packWeights(tensors);
    const file = `weights-${meta.iteration}.bin`;
    const modelJson = JSON.stringify({
      format: GENERATOR_WEIGHTS_FORMAT,
      generatedBy: "GAN Studio",
      weightsManifest: [{ paths: [file], weights: packed.weights }],
      userDefinedMetadata: {
        runId,
        iteration: meta.iteration,
        epoch: meta.epoch,
        createdAt: meta.createdAt,
        spec: meta.spec,
        scopes: meta.runtimeGenerator.scopes,
        seed: meta.config.seed,
      },
    } satisfies GeneratorModelJson);
    return { iteration: meta.iteration, epoch: meta.epoch, modelJson, weights: packed.bytes, etag: `"${runId}-${meta.iteration}"` };
  }

  private remember(runId: string, source: string, weights: GeneratorWeights): void {
    const before = this.runs.get(runId);
    const versions = [weights, ...(before?.versions.filter((v) => v.iteration !== weights.iteration) ?? [])].slice(0, 2);
    this.runs.set(runId, { source, versions, usedAt: Date.now() });
    while (this.runs.size > this.maxRuns) {
      const oldest = [...this.runs.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt)[0]!;
      this.runs.delete(oldest[0]);
    }
  }
}
