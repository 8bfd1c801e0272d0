/**
 * The page's RuntimeGenerator (lib/gan/page-generator.ts) from what the server serves (server/runs/generator-weights.ts
 * over a real snapshot folder): on the same backend its pixels are the server RuntimeGenerator's exactly, for images
 * and for an interpolation strip, with BatchNormalization's running statistics trained away from 0 and 1; bad
 * requests and files are refused with what is wrong.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../lib/gan/backend";
import { writeCheckpoint } from "../../lib/gan/checkpoint";
import { parseConfig } from "../../lib/gan/config";
import { RuntimeGenerator } from "../../lib/gan/generator";
import { GanModel } from "../../lib/gan/model";
import { PageGenerator, PageGeneratorError } from "../../lib/gan/page-generator";
import { zFor } from "../../lib/gan/runtime-noise";
import { BUILTIN_SPECS } from "../../lib/gan/spec";
import { runtimeDir } from "../../lib/protocol/generator";
import { GeneratorWeightsCache } from "../../server/runs/generator-weights";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-page-generator-"));
let server: RuntimeGenerator;
let page: PageGenerator;
let served: { modelJson: string; weights: Uint8Array };

beforeAll(async () => {
  expect((await initBackend("cpu")).name).toBe("cpu");
  const config = parseConfig({ network: "small-dcgan", seed: 4 });
  const model = new GanModel(BUILTIN_SPECS["small-dcgan"], 4, config.optimizers);
  // One step on fixed images: the running statistics are not 0 and 1 any more.
  const images = Float32Array.from({ length: 4 * 28 * 28 }, (_, i) => ((i * 37) % 101) / 100);
  const labels = Int32Array.from({ length: 4 }, (_, i) => i % 10);
  await model.trainStep({ images, labels }, 0);
  const outDir = path.join(tmp, "run");
  await writeCheckpoint(
    runtimeDir(outDir),
    { model, config, iteration: 1, iterationsPerEpoch: 1, dataset: { ref: "mnist", trainCount: 4, numLabels: 10 }, backend: "cpu", monitor: null },
    { weightsOnly: true },
  );
  model.dispose();
  const current = await new GeneratorWeightsCache().current("run-1", outDir);
  served = { modelJson: current!.modelJson, weights: current!.weights };
  server = await RuntimeGenerator.fromCheckpoint(runtimeDir(outDir));
  page = PageGenerator.fromFiles(JSON.parse(served.modelJson), served.weights);
});

afterAll(() => {
  server?.dispose();
  page?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the page's RuntimeGenerator", () => {
  it("draws the server's images exactly, from the served weights alone", async () => {
    expect(page.iteration).toBe(1);
    for (const [label, seed] of [
      [0, 0],
      [7, 42],
      [9, 2 ** 32 - 1],
    ] as const) {
      const want = await server.generate({ label, seed, count: 4 });
      const got = await page.generate({ label, seed, count: 4 });
      expect([got.count, got.height, got.width, got.channels]).toEqual([4, 28, 28, 1]);
      expect(got.pixels).toEqual(Float32Array.from(want.images.flatMap((img) => [...img])));
    }
  });

  it("walks between two seeds as the server does", async () => {
    const want = await server.interpolate({ label: 3, seedA: 1, seedB: 2, steps: 5 });
    const got = await page.interpolate({ label: 3, seedA: 1, seedB: 2, steps: 5 });
    expect(got.pixels).toEqual(Float32Array.from(want.images.flatMap((img) => [...img])));
  });

  it("shares the server's noise: z of a seed is the same numbers", () => {
    expect(server.zFor(42, 3)).toEqual(zFor(server.model.resolved.spec.z, 42, 3));
  });

  it("refuses bad requests and files with what is wrong", async () => {
    await expect(page.generate({ label: 10, seed: 1 })).rejects.toThrow("label must be an integer from 0 to 9, got 10");
    await expect(page.generate({ label: 1, seed: -1 })).rejects.toBeInstanceOf(PageGeneratorError);
    await expect(page.generate({ label: 1, seed: 1, count: 65 })).rejects.toThrow("count must be an integer from 1 to 64, got 65");
    expect(() => PageGenerator.fromFiles({ format: "something else" }, served.weights)).toThrow(/not the RuntimeGenerator's weights/);
    expect(() => PageGenerator.fromFiles(JSON.parse(served.modelJson), served.weights.subarray(4))).toThrow(/model\.json describes another size/);
  });
});
