/** `datasets.*`: the session's data sets, one file's upload, an import of uploaded files, and removal. */
import { TRPCError } from "@trpc/server";
import { octetInputParser } from "@trpc/server/http";
import { z } from "zod";
import { UploadError } from "../../datasets/uploads";
import { QuotaError } from "../../limits";
import { authedProcedure, quotaTrpc, requireRole, router } from "../init";
import { id, toTrpc } from "../shared";

const DatasetIdSchema = z.string().regex(/^(mnist-bundled|ds-[0-9a-f]{20})$/, "not a data set id");

/** An import of files uploaded before (datasets.upload), with the names they had (a name tells the format). */
const ImportInputSchema = z.object({
  sessionId: id,
  importId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, "importId must be 8–64 letters, digits or dashes"),
  files: z
    .array(z.object({ uploadId: z.string().uuid(), name: z.string().trim().min(1).max(255) }))
    .min(1, "choose a file to import: a .zip, or an IDX images and labels pair")
    .max(4, "upload one zip, or an IDX images file with its labels file"),
  name: z.string().trim().max(80).optional(),
  resize: z.enum(["reject", "fit"]).default("reject"),
  size: z.tuple([z.number().int().min(4).max(64), z.number().int().min(4).max(64)], { message: "size is [height, width], 4–64 each" }).optional(),
});

/** Upload errors as tRPC errors. */
function uploadTrpc(e: unknown): never {
  if (e instanceof UploadError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
  if (e instanceof QuotaError) throw quotaTrpc(e);
  throw e;
}

export const datasetsRouter = router({
  /** The bundled digits and the session's imported data sets, each with counts per label and shape. */
  list: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "viewer");
    return ctx.datasets.list(input.sessionId);
  }),
  /** One data set: counts, the train/validation split, which built-in networks fit, who imported it and when. */
  get: authedProcedure.input(z.object({ sessionId: id, datasetId: DatasetIdSchema })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "viewer");
    return ctx.datasets.get(input.sessionId, input.datasetId).catch(toTrpc);
  }),
  /**
   * One file's bytes, as the request body (application/octet-stream), streamed to disk as they arrive. Returns the
   * upload's id for `import`; only its uploader can use it, and it is kept half an hour.
   */
  upload: authedProcedure.input(octetInputParser).mutation(async ({ ctx, input }) => {
    return ctx.uploads.save(ctx.userId, input, ctx.contentLength).catch(uploadTrpc);
  }),
  /**
   * Imports uploaded files (one zip: IDX files, an NNC dataset CSV with its images, or one folder per label; or an
   * IDX images + labels pair) and shares the data set in the session. Progress is pushed on the socket; the
   * uploads are deleted afterwards, imported or not.
   */
  import: authedProcedure.input(ImportInputSchema).mutation(async ({ ctx, input }) => {
    const uploadIds = input.files.map((f) => f.uploadId);
    try {
      await requireRole(ctx, input.sessionId, "editor");
      const files: { name: string; path: string; bytes: number }[] = [];
      for (const f of input.files) {
        const taken = await ctx.uploads.take(ctx.userId, f.uploadId).catch(uploadTrpc);
        files.push({ name: f.name, path: taken.file, bytes: taken.bytes });
      }
      const user = await ctx.store.getUser(ctx.userId);
      return await ctx.datasets
        .importUpload({
          sessionId: input.sessionId,
          user: { id: ctx.userId, name: user?.name ?? "someone" },
          importId: input.importId,
          resize: input.resize,
          files,
          ...(input.name ? { name: input.name } : {}),
          ...(input.size ? { size: input.size } : {}),
        })
        .catch(toTrpc);
    } finally {
      await ctx.uploads.release(ctx.userId, uploadIds);
    }
  }),
  /** Deletes a data set from the session; refused (CONFLICT) while any of its runs uses it. */
  remove: authedProcedure.input(z.object({ sessionId: id, datasetId: DatasetIdSchema })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "editor");
    await ctx.datasets.remove(input.sessionId, input.datasetId, { id: ctx.userId }).catch(toTrpc);
    return { ok: true };
  }),
});
