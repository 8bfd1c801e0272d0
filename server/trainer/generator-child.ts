/**
 * A run's RuntimeGenerator process: answers `generate` from the newest weights on disk, the trainer's snapshot
 * (`<outDir>/runtime/`) or its latest checkpoint. It checks the snapshot's model.json before each request and
 * reloads when the trainer wrote a newer one, so images follow training within a couple of seconds and never
 * wait for a training step. Started by server/trainer/generator-pool.ts with the run's outDir as argument.
 */
import type { GenerateReply } from "../../lib/protocol/trainer";
import { GENERATOR_PROTOCOL_VERSION as v, GeneratorRequestSchema, newestWeightsDir, type GeneratorReply } from "../../lib/protocol/generator";
import type { RuntimeGenerator } from "../../lib/gan/generator";

const outDir = process.argv[2]!;
let loaded: { dir: string; mtimeMs: number; gen: RuntimeGenerator } | null = null;
let queue: Promise<unknown> = Promise.resolve();

const send = (m: GeneratorReply) => process.send?.(m);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function generator(): Promise<RuntimeGenerator | null> {
  const want = await newestWeightsDir(outDir);
  if (!want) return null;
  if (loaded && loaded.dir === want.dir && loaded.mtimeMs === want.mtimeMs) return loaded.gen;
  const { RuntimeGenerator } = await import("../../lib/gan/generator");
  const { initBackend } = await import("../../lib/gan/backend");
  // The CPU-side backend: a GPU, if any, belongs to the trainer.
  await initBackend(process.env.GAN_GENERATOR_BACKEND ?? "wasm");
  const gen = await RuntimeGenerator.fromCheckpoint(want.dir);
  loaded?.gen.dispose();
  loaded = { ...want, gen };
  return gen;
}

process.on("message", (raw: unknown) => {
  const requestId = typeof (raw as { requestId?: unknown })?.requestId === "string" ? (raw as { requestId: string }).requestId : "";
  const parsed = GeneratorRequestSchema.safeParse(raw);
  if (!parsed.success) {
    send({
      v,
      type: "reply",
      requestId,
      ok: false,
      error: { code: "BAD_REQUEST", message: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") },
    });
    return;
  }
  const req = parsed.data;
  // One request at a time: each is a few milliseconds, and a reload must not race a draw.
  queue = queue.then(async () => {
    try {
      const gen = await generator();
      if (!gen) {
        send({
          v,
          type: "reply",
          requestId,
          ok: false,
          error: { code: "NO_WEIGHTS", message: "this run has no weights yet: wait for its first seconds of training" },
        });
        return;
      }
      const out =
        req.seedB !== undefined
          ? await gen.interpolate({ label: req.label, seedA: req.seed, seedB: req.seedB, steps: Math.max(2, req.count) })
          : await gen.generate({ label: req.label, seed: req.seed, count: req.count });
      const data: GenerateReply = { count: out.count, width: out.width, height: out.height, labels: out.labels, png: out.png, stripPng: out.stripPng };
      send({ v, type: "reply", requestId, ok: true, data });
    } catch (e) {
      const code = (e as Error).name === "GenerateError" ? "BAD_REQUEST" : "INTERNAL";
      send({ v, type: "reply", requestId, ok: false, error: { code, message: message(e) } });
    }
  });
});
process.on("disconnect", () => process.exit(0));
send({ v, type: "hello", pid: process.pid });
