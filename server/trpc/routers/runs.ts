/** `runs.*`: create a run, read it (history, parameters, the finished ones), its controls, and the RuntimeGenerator. */
import { z } from "zod";
import { lrMultiplierSchema } from "../../../lib/gan/config";
import { ALPHA_MAX_ANY, PARAMETER_NAMES, PARTS, TRAINING_NETWORKS } from "../../../lib/gan/vocabulary";
import { finishedRuns } from "../../runs/finished";
import { runParameters } from "../../runs/parameters";
import { authedProcedure, type Context, requireRole, router } from "../init";
import { id, runInSession, toTrpc, withoutPaths } from "../shared";

/** pause / resume / stop: an editor of the run's session, then the run service's control; its errors as tRPC errors. */
function runControl(control: (ctx: Context & { userId: string }, runId: string) => unknown) {
  return authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    await Promise.resolve()
      .then(() => control(ctx, input.runId))
      .catch(toTrpc);
    return { ok: true };
  });
}

export const runsRouter = router({
  create: authedProcedure
    .input(z.object({ sessionId: id, name: z.string().trim().min(1, "name the run").max(80), config: z.record(z.string(), z.unknown()).default({}) }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.sessionId, "editor");
      return ctx.runs.createRun({ sessionId: input.sessionId, userId: ctx.userId, name: input.name, config: input.config }).catch(toTrpc);
    }),
  get: authedProcedure.input(z.object({ runId: id })).query(async ({ ctx, input }) => {
    const { run, role } = await runInSession(ctx, input.runId, "viewer");
    const checkpoints = (await ctx.store.listCheckpoints(input.runId)).map(({ dir: _dir, ...c }) => c);
    const datasetName = (await ctx.datasets.names(run.sessionId)).get(run.datasetRef) ?? run.datasetRef;
    return { run: withoutPaths(run), role, parameters: ctx.runs.parameters(input.runId), checkpoints, dataset: { id: run.datasetRef, name: datasetName } };
  }),
  /** A late joiner's history: bounded (a long run's overview and its last page at full resolution), as the socket `join` gives it. */
  history: authedProcedure.input(z.object({ runId: id })).query(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "viewer");
    return ctx.runs.history(input.runId);
  }),
  /** Full-resolution points of an iteration range (both ends inclusive), one page (GAN_HISTORY_PAGE_POINTS) at a time; `nextFrom` continues. */
  historyRange: authedProcedure
    .input(
      z
        .object({
          runId: id,
          fromIteration: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
          toIteration: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        })
        .refine((r) => r.toIteration >= r.fromIteration, { message: "toIteration must not be before fromIteration", path: ["toIteration"] }),
    )
    .query(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "viewer");
      return ctx.runs.historyRange(input.runId, input.fromIteration, input.toIteration).catch(toTrpc);
    }),
  /** ParameterScopes with their LRateMultipliers, optimizer α per network, layers: for the parameter table and network view. */
  parameters: authedProcedure.input(z.object({ runId: id })).query(async ({ ctx, input }) => {
    const { run } = await runInSession(ctx, input.runId, "viewer");
    return runParameters(ctx, run);
  }),
  /** The session's finished runs (completed, stopped, failed, interrupted), newest first, with final grid and checkpoints. */
  finished: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "viewer");
    return finishedRuns(ctx, input.sessionId);
  }),
  start: authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    // Queued when every trainer slot is taken: `queuePosition` runs are ahead of it (null: it is starting now).
    const { queuePosition } = await ctx.runs.start(input.runId, ctx.userId).catch(toTrpc);
    return { ok: true, queued: queuePosition !== null, queuePosition };
  }),
  pause: runControl((ctx, runId) => ctx.runs.pause(runId, ctx.userId)),
  resume: runControl((ctx, runId) => ctx.runs.resume(runId, ctx.userId)),
  // A queued run leaves the queue (back to the status it had).
  stop: runControl((ctx, runId) => ctx.runs.stop(runId, ctx.userId)),
  setLrMultiplier: authedProcedure
    .input(z.object({ runId: id, scope: z.string().min(1).max(100), param: z.enum(PARAMETER_NAMES), value: lrMultiplierSchema() }))
    .mutation(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "editor");
      await ctx.runs.setLrMultiplier(input.runId, ctx.userId, input.scope, input.param, input.value).catch(toTrpc);
      return { ok: true };
    }),
  setFrozen: authedProcedure.input(z.object({ runId: id, part: z.enum(PARTS), frozen: z.boolean() })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    const changed = await ctx.runs.setPartFrozen(input.runId, ctx.userId, input.part, input.frozen).catch(toTrpc);
    return { changed };
  }),
  /** α above 0 and at most the largest any solver takes; the trainer checks it against the network's own solver (BAD_REQUEST). */
  setAlpha: authedProcedure
    .input(z.object({ runId: id, network: z.enum(TRAINING_NETWORKS), alpha: z.number().positive().max(ALPHA_MAX_ANY) }))
    .mutation(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "editor");
      await ctx.runs.setAlpha(input.runId, ctx.userId, input.network, input.alpha).catch(toTrpc);
      return { ok: true };
    }),
  /** RuntimeGenerator: base64 PNGs and what they show; viewers may use it. */
  generate: authedProcedure
    .input(
      z.object({
        runId: id,
        label: z.number().int().min(0).max(999),
        seed: z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1)
          .default(0),
        count: z.number().int().min(1).max(64).default(1),
        seedB: z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 1)
          .optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "viewer");
      const out = await ctx.runs.generate(input.runId, input).catch(toTrpc);
      return {
        label: input.label,
        seed: input.seed,
        count: out.count,
        width: out.width,
        height: out.height,
        labels: out.labels,
        png: out.png.map((p) => Buffer.from(p).toString("base64")),
        stripPng: Buffer.from(out.stripPng).toString("base64"),
      };
    }),
});
