/**
 * Messages between the server and a run's RuntimeGenerator process (server/trainer/generator-child.ts), which
 * draws images from the newest weights on disk: the trainer's snapshot (`<outDir>/runtime/`, every couple of
 * seconds while it trains) or else its latest checkpoint (`<outDir>/latest/`). Zod-checked on both sides.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

export const GENERATOR_PROTOCOL_VERSION = 1;
const v = z.literal(GENERATOR_PROTOCOL_VERSION);

/** Where the trainer of a run writes its RuntimeGenerator snapshot. */
export const runtimeDir = (outDir: string) => path.join(outDir, "runtime");
/** Where the trainer of a run writes its latest checkpoint. */
export const latestDir = (outDir: string) => path.join(outDir, "latest");

/**
 * The newest weights folder of a run, by model.json's mtime: its snapshot or its latest checkpoint (written in the
 * same millisecond: the checkpoint, the later of the two in a trainer's write queue); null when neither exists yet.
 * What the RuntimeGenerator process and the weights served to pages both read.
 */
export async function newestWeightsDir(outDir: string): Promise<{ dir: string; mtimeMs: number } | null> {
  let best: { dir: string; mtimeMs: number } | null = null;
  for (const dir of [runtimeDir(outDir), latestDir(outDir)]) {
    const s = await stat(path.join(dir, "model.json")).catch(() => null);
    if (s && (!best || s.mtimeMs >= best.mtimeMs)) best = { dir, mtimeMs: s.mtimeMs };
  }
  return best;
}

export const GeneratorRequestSchema = z.object({
  v,
  type: z.literal("generate"),
  requestId: z.string().min(1).max(64),
  label: z.number().int().min(0),
  seed: z.number().int().min(0),
  count: z.number().int().min(1).max(64).default(1),
  seedB: z.number().int().min(0).optional(),
});
export type GeneratorRequest = z.input<typeof GeneratorRequestSchema>;

export const GeneratorReplySchema = z.discriminatedUnion("type", [
  z.object({ v, type: z.literal("hello"), pid: z.number().int() }),
  z.object({
    v,
    type: z.literal("reply"),
    requestId: z.string(),
    ok: z.boolean(),
    data: z.unknown().optional(),
    error: z.object({ code: z.enum(["BAD_REQUEST", "NO_WEIGHTS", "INTERNAL"]), message: z.string() }).optional(),
  }),
]);
export type GeneratorReply = z.infer<typeof GeneratorReplySchema>;
