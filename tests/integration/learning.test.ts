/**
 * The GAN learns: after a bounded run of the small DCGAN on 640 bundled digits, generated digits sit much closer
 * to real ones (nearest-neighbour distance) and their ink matches the data's, where at initialisation they do not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../lib/gan/backend";
import { RuntimeGenerator } from "../../lib/gan/generator";
import { Trainer } from "../../lib/gan/trainer";

beforeAll(async () => {
  await initBackend("wasm");
});

/** Mean over generated images of the L2 distance to the nearest real image. */
function meanNearestDistance(generated: Float32Array[], real: Float32Array, size: number): number {
  const n = real.length / size;
  let total = 0;
  for (const g of generated) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let k = 0; k < size; k++) {
        const x = g[k]! - real[j * size + k]!;
        d += x * x;
      }
      if (d < best) best = d;
    }
    total += Math.sqrt(best);
  }
  return total / generated.length;
}

const meanInk = (images: Float32Array[]) => images.reduce((s, im) => s + im.reduce((a, b) => a + b, 0) / im.length, 0) / images.length;

describe("learning", () => {
  // CPU-bound: about a minute on two idle cores; the budget leaves room for a busy machine.
  it("moves generated digits toward the data", { timeout: 600_000 }, async () => {
    const trainer = await Trainer.create({
      config: {
        network: "small-dcgan",
        diagnostics: false,
        batchSize: 32,
        limit: 640,
        maxEpoch: 8,
        seed: 11,
        optimizers: { Generator: { type: "Adam", alpha: 0.001 } },
      },
    });
    const size = 28 * 28;
    const gen = RuntimeGenerator.live(trainer.model);
    const labels = Array.from({ length: 40 }, (_, i) => i % 10);
    const sample = async () => (await gen.generate({ labels, seed: 5 })).images;

    const before = await sample();
    const dataInk = trainer.train.images.reduce((a, b) => a + b, 0) / trainer.train.images.length;
    const distBefore = meanNearestDistance(before, trainer.train.images, size);
    expect(await trainer.start()).toBe("completed"); // 160 iterations
    const after = await sample();
    const distAfter = meanNearestDistance(after, trainer.train.images, size);

    // At initialisation the tanh output sits near mid-grey: far from every digit.
    expect(Math.abs(meanInk(before) - dataInk)).toBeGreaterThan(0.2);
    expect(distAfter).toBeLessThan(0.6 * distBefore);
    console.log(JSON.stringify({ distBefore, distAfter, inkBefore: meanInk(before), inkAfter: meanInk(after), dataInk }));
    expect(Math.abs(meanInk(after) - dataInk)).toBeLessThan(0.08);
    trainer.dispose();
  });
});
