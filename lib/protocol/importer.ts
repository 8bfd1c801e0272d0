/**
 * Messages between the server and its data set import process (server/datasets/import-child.ts), which decodes
 * uploads into the content-addressed store so the server's event loop keeps serving live sessions meanwhile.
 * Zod-checked on both sides. The files are named by path (uploads the server streamed to disk); the process
 * reads them itself, so no bytes cross the IPC channel.
 */
import { z } from "zod";

export const IMPORTER_PROTOCOL_VERSION = 1;
const v = z.literal(IMPORTER_PROTOCOL_VERSION);

export const ImportRequestSchema = z.object({
  v,
  type: z.literal("import"),
  requestId: z.string().min(1).max(64),
  /** `name`: the file's name as uploaded (it tells the format: .zip, …idx3-ubyte.gz); `path`: where it lies. */
  files: z.array(z.object({ name: z.string().min(1).max(1000), path: z.string().min(1) })).min(1),
  options: z
    .object({
      name: z.string().max(200).optional(),
      importedBy: z.string().max(200).optional(),
      resize: z.enum(["reject", "fit"]).optional(),
      size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
    })
    .strict(),
});
export type ImportRequest = z.infer<typeof ImportRequestSchema>;

/** A rejected import: the DatasetError's fields, as the importer reported them. */
export const ImportErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  file: z.string().optional(),
  row: z.number().optional(),
  image: z.string().optional(),
  label: z.number().optional(),
  /** false: not a DatasetError (a bug or the machine), reported as an internal error. */
  dataset: z.boolean(),
});

export const ImportReplySchema = z.union([
  z.object({
    v,
    type: z.literal("progress"),
    requestId: z.string(),
    phase: z.enum(["reading", "decoding", "storing", "done"]),
    done: z.number(),
    total: z.number(),
  }),
  z.object({ v, type: z.literal("result"), requestId: z.string(), ok: z.literal(true), dataset: z.record(z.string(), z.unknown()), reused: z.boolean() }),
  z.object({ v, type: z.literal("result"), requestId: z.string(), ok: z.literal(false), error: ImportErrorSchema }),
]);
export type ImportReply = z.infer<typeof ImportReplySchema>;
