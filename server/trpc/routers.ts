/**
 * The API: accounts, sessions (members, invites), runs (create, controls, RuntimeGenerator, history).
 * Inputs are zod schemas; every session-scoped procedure checks membership and role before it acts.
 */
import { createHash, randomBytes } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { octetInputParser } from "@trpc/server/http";
import { z } from "zod";
import { parseConfig } from "../../lib/gan/config.js";
import { TRAINING_NETWORKS } from "../../lib/gan/spec.js";
import { CredentialsSchema, SignUpSchema, hashPassword, verifyPassword } from "../auth/auth.js";
import { DatasetServiceError } from "../datasets/service.js";
import { StoreError } from "../db/store.js";
import { UploadError } from "../datasets/uploads.js";
import { gridUrl, RunError } from "../runs/service.js";
import { authedProcedure, publicProcedure, requireRole, router, type Context } from "./init.js";

const id = z.string().min(1).max(100);
const NETWORKS = ["Generator", "DiscriminatorFake", "DiscriminatorReal"] as const;

/** Maps the run service's errors to tRPC codes, keeping field issues for forms. */
function toTrpc(e: unknown): never {
  if (e instanceof RunError || e instanceof DatasetServiceError) {
    const code = e.code === "UNAVAILABLE" ? "PRECONDITION_FAILED" : e.code;
    throw new TRPCError({ code, message: e.message, cause: e });
  }
  if (e instanceof StoreError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
  if ((e as { code?: string }).code === "CONFLICT") throw new TRPCError({ code: "CONFLICT", message: (e as Error).message });
  throw e;
}

async function runInSession(ctx: Context & { userId: string }, runId: string, min: "viewer" | "editor" | "owner") {
  const run = await ctx.store.getRun(runId);
  if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `run ${runId} does not exist` });
  const role = await requireRole(ctx, run.sessionId, min);
  return { run, role };
}

/** A run as browsers see it: without the server's file paths. */
const withoutPaths = <T extends { outDir: string }>({ outDir: _outDir, ...run }: T): Omit<T, "outDir"> => run;

const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

const authRouter = router({
  me: publicProcedure.query(async ({ ctx }) => {
    if (!ctx.userId) return null;
    const user = await ctx.store.getUser(ctx.userId);
    return user ? { id: user.id, name: user.name, email: user.email } : null;
  }),
  signUp: publicProcedure.input(SignUpSchema).mutation(async ({ ctx, input }) => {
    const existing = await ctx.store.findUserByEmail(input.email);
    if (existing) throw new TRPCError({ code: "CONFLICT", message: "an account with this email exists: sign in instead" });
    const user = await ctx.store.createUser({ email: input.email, name: input.name, passwordHash: await hashPassword(input.password) });
    await setSession(ctx, user.id);
    return { id: user.id, name: user.name, email: user.email };
  }),
  signIn: publicProcedure.input(CredentialsSchema).mutation(async ({ ctx, input }) => {
    const user = await ctx.store.findUserByEmail(input.email);
    // One message for both cases: the form must not tell which emails have accounts.
    if (!user || !(await verifyPassword(user.passwordHash, input.password))) {
      throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong email or password" });
    }
    await setSession(ctx, user.id);
    return { id: user.id, name: user.name, email: user.email };
  }),
  signOut: publicProcedure.mutation(({ ctx }) => {
    const cookie = ctx.sealer.clear();
    ctx.setCookies.push(cookie);
    ctx.res?.appendHeader("Set-Cookie", cookie);
    return { ok: true };
  }),
});

async function setSession(ctx: Context, userId: string) {
  const cookie = await ctx.sealer.seal({ userId });
  ctx.setCookies.push(cookie);
  ctx.res?.appendHeader("Set-Cookie", cookie);
}

const sessionsRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const sessions = await ctx.store.listSessionsForUser(ctx.userId);
    return sessions.map((s) => ({ ...s, watching: ctx.presence.users(s.id) }));
  }),
  create: authedProcedure.input(z.object({ name: z.string().trim().min(1, "name the session").max(80) })).mutation(async ({ ctx, input }) => {
    return ctx.store.createSession({ name: input.name, ownerId: ctx.userId });
  }),
  get: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    const role = await requireRole(ctx, input.sessionId, "viewer");
    const session = await ctx.store.getSession(input.sessionId);
    if (!session) throw new TRPCError({ code: "NOT_FOUND", message: "this session does not exist" });
    const runs = (await ctx.store.listRuns(input.sessionId)).map(withoutPaths);
    return { session, role, members: await ctx.store.listMembers(input.sessionId), runs, watching: ctx.presence.users(input.sessionId) };
  }),
  activity: authedProcedure.input(z.object({ sessionId: id, runId: id.optional(), limit: z.number().int().min(1).max(1000).default(200) })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "viewer");
    const entries = await ctx.store.listActivity(input.sessionId, { ...(input.runId ? { runId: input.runId } : {}), limit: input.limit });
    return entries.map((a) => ({ ...a, createdAt: a.createdAt.toISOString() }));
  }),
  setPauseOnCollapse: authedProcedure.input(z.object({ sessionId: id, value: z.boolean() })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const before = await ctx.store.getSession(input.sessionId);
    await ctx.store.setPauseOnCollapse(input.sessionId, input.value);
    if (before && before.pauseOnCollapse !== input.value) {
      await ctx.runs.recordActivity({ sessionId: input.sessionId, userId: ctx.userId, kind: "session.pauseOnCollapse", detail: { from: before.pauseOnCollapse, to: input.value } });
    }
    return { ok: true };
  }),
  createInvite: authedProcedure.input(z.object({ sessionId: id, role: z.enum(["editor", "viewer"]) })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const token = randomBytes(24).toString("base64url");
    const invite = await ctx.store.createInvite({ sessionId: input.sessionId, role: input.role, createdById: ctx.userId, tokenHash: hashToken(token) });
    // The token is shown once, here; only its hash is stored.
    return { id: invite.id, role: input.role, token, path: `/invite/${token}` };
  }),
  /** The owner changes a member's role (editor ⇄ viewer); everyone sees it in the activity feed and presence. */
  setRole: authedProcedure
    .input(z.object({ sessionId: id, userId: id, role: z.enum(["editor", "viewer"]) }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.sessionId, "owner");
      const { from } = await ctx.store.setMemberRole(input.sessionId, input.userId, input.role).catch(toTrpc);
      if (from !== input.role) {
        const who = await ctx.store.getUser(input.userId);
        await ctx.runs.recordActivity({ sessionId: input.sessionId, userId: ctx.userId, kind: "member.role", detail: { memberId: input.userId, member: who?.name ?? null, from, to: input.role } });
        await ctx.realtime?.membershipChanged(input.sessionId, input.userId, input.role);
      }
      return { role: input.role };
    }),
  /** The owner removes a member: their access ends at once, open pages included. */
  removeMember: authedProcedure.input(z.object({ sessionId: id, userId: id })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const who = await ctx.store.getUser(input.userId);
    const { role } = await ctx.store.removeMember(input.sessionId, input.userId).catch(toTrpc);
    // The entry first, so the removed member's open page hears of it (and finds itself forbidden), then the eviction.
    await ctx.runs.recordActivity({ sessionId: input.sessionId, userId: ctx.userId, kind: "member.removed", detail: { memberId: input.userId, member: who?.name ?? null, role } });
    await ctx.realtime?.membershipChanged(input.sessionId, input.userId, null);
    return { ok: true };
  }),
  /** The session's invite links (never their tokens, which were shown once), newest first, revoked ones included. */
  invites: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const members = await ctx.store.listMembers(input.sessionId);
    const names = new Map(members.map((m) => [m.userId, m.name]));
    return (await ctx.store.listInvites(input.sessionId))
      .map((i) => ({ id: i.id, role: i.role, createdByName: names.get(i.createdById) ?? null, createdAt: i.createdAt.toISOString(), revokedAt: i.revokedAt?.toISOString() ?? null }))
      .reverse();
  }),
  revokeInvite: authedProcedure.input(z.object({ sessionId: id, inviteId: id })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const invites = await ctx.store.listInvites(input.sessionId);
    if (!invites.some((i) => i.id === input.inviteId)) throw new TRPCError({ code: "NOT_FOUND", message: "no such invite in this session" });
    await ctx.store.revokeInvite(input.inviteId);
    return { ok: true };
  }),
  acceptInvite: authedProcedure.input(z.object({ token: z.string().min(10).max(200) })).mutation(async ({ ctx, input }) => {
    const invite = await ctx.store.findActiveInvite(hashToken(input.token));
    if (!invite) throw new TRPCError({ code: "NOT_FOUND", message: "this invite link is not valid (revoked or mistyped)" });
    await ctx.store.addMember(invite.sessionId, ctx.userId, invite.role);
    const m = await ctx.store.getMembership(ctx.userId, invite.sessionId);
    await ctx.store.addActivity({ sessionId: invite.sessionId, userId: ctx.userId, kind: "member.joined", detail: { role: m?.role ?? invite.role } });
    return { sessionId: invite.sessionId, role: m?.role ?? invite.role };
  }),
});


const TRAINABLE = new Set(["W", "b", "beta", "gamma"]);
const FINISHED = new Set(["completed", "stopped", "failed", "interrupted"]);

/** Who made the last change to a value, and when (for the parameter table). */
interface LastChange {
  userName: string | null;
  iteration: number | null;
  at: string;
}

/**
 * A run's ParameterScopes with every LRateMultiplier, each training network's optimizer α, and its layers (for the
 * network view), whether or not a trainer process is live: the Config's values, then every change recorded in the
 * activity log, then (when a trainer runs) the multipliers it reported.
 */
async function runParameters(ctx: Context & { userId: string }, run: { id: string; sessionId: string; config: unknown }) {
  const config = parseConfig(run.config);
  const resolved = await ctx.datasets.specForRun(config);
  const multipliers = new Map<string, number>();
  for (const p of resolved.parameters) {
    if (p.trainable) multipliers.set(`${p.scope}/${p.name}`, (config.lrMultipliers[p.scope] as Record<string, number | undefined> | undefined)?.[p.name] ?? 1);
  }
  const optimizers = new Map<string, { type: string; alpha: number }>(
    TRAINING_NETWORKS.map((n) => [n, { type: config.optimizers[n].type, alpha: config.optimizers[n].alpha }]),
  );
  const changes = new Map<string, LastChange>();
  for (const a of await ctx.store.listActivity(run.sessionId, { runId: run.id, limit: 10_000 })) {
    const d = a.detail;
    const who: LastChange = { userName: a.userName, iteration: a.iteration, at: a.createdAt.toISOString() };
    if (a.kind === "control.lrMultiplier" && typeof d.scope === "string" && typeof d.param === "string" && typeof d.to === "number") {
      const key = `${d.scope}/${d.param}`;
      if (multipliers.has(key)) multipliers.set(key, d.to);
      changes.set(key, who);
    } else if (a.kind === "control.optimizer" && typeof d.network === "string") {
      const to = d.to as { type?: unknown; alpha?: unknown } | undefined;
      const current = optimizers.get(d.network);
      if (current && typeof to?.alpha === "number") optimizers.set(d.network, { type: typeof to.type === "string" ? to.type : current.type, alpha: to.alpha });
      changes.set(`optimizer/${d.network}`, who);
    }
  }
  const live = ctx.runs.parameters(run.id);
  for (const [scope, params] of Object.entries(live?.lrMultipliers ?? {})) {
    for (const [param, value] of Object.entries(params)) if (multipliers.has(`${scope}/${param}`)) multipliers.set(`${scope}/${param}`, value);
  }
  const layerInfo = (l: (typeof resolved.layers.generator)[number]) => ({
    index: l.index,
    type: l.layer.type,
    scope: "scope" in l.layer ? l.layer.scope : null,
    inShape: l.inShape,
    outShape: l.outShape,
    labelPlanes: l.labelPlanes ?? false,
  });
  return {
    network: resolved.spec.name,
    description: resolved.spec.description,
    /** The labels the RuntimeGenerator takes (0..numLabels-1), with the data set's names for them when it has some. */
    numLabels: resolved.spec.numLabels,
    labelNames: ctx.datasets.labelNames(config.dataset),
    imageShape: [resolved.spec.image.height, resolved.spec.image.width, resolved.spec.image.channels],
    live: live !== null,
    scopes: resolved.scopes.map((s) => ({
      scope: s.scope,
      part: s.part,
      layerType: s.layerType,
      params: resolved.parameters
        .filter((p) => p.scope === s.scope && TRAINABLE.has(p.name))
        .map((p) => ({
          name: p.name as "W" | "b" | "beta" | "gamma",
          shape: p.shape,
          lrMultiplier: multipliers.get(`${p.scope}/${p.name}`) ?? 1,
          lastChange: changes.get(`${p.scope}/${p.name}`) ?? null,
        })),
    })),
    optimizers: TRAINING_NETWORKS.map((network) => ({ network, ...optimizers.get(network)!, lastChange: changes.get(`optimizer/${network}`) ?? null })),
    layers: { generator: resolved.layers.generator.map(layerInfo), discriminator: resolved.layers.discriminator.map(layerInfo) },
    networks: resolved.spec.networks.map((n) => ({ name: n.name, input: n.input, parts: n.parts, trains: n.trains, loss: n.loss })),
  };
}

const runsRouter = router({
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
  history: authedProcedure.input(z.object({ runId: id })).query(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "viewer");
    return ctx.runs.history(input.runId);
  }),
  /** ParameterScopes with their LRateMultipliers, optimizer α per network, layers: for the parameter table and network view. */
  parameters: authedProcedure.input(z.object({ runId: id })).query(async ({ ctx, input }) => {
    const { run } = await runInSession(ctx, input.runId, "viewer");
    return runParameters(ctx, run);
  }),
  /** The session's finished runs (completed, stopped, failed, interrupted), newest first, with final grid and checkpoints. */
  finished: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "viewer");
    const runs = (await ctx.store.listRuns(input.sessionId)).filter((r) => FINISHED.has(r.status)).reverse();
    const names = await ctx.datasets.names(input.sessionId);
    return Promise.all(
      runs.map(async (r) => {
        const config = parseConfig(r.config);
        const grids = await ctx.store.listGrids(r.id);
        const last = await ctx.store.lastIteration(r.id);
        const finalLosses = last === null ? null : ((await ctx.store.metrics(r.id, { afterIteration: last - 1, limit: 1 }))[0] ?? null);
        return {
          id: r.id,
          name: r.name,
          status: r.status,
          failureReason: r.failureReason,
          epoch: r.epoch,
          iteration: r.iteration,
          backend: r.backend,
          network: typeof config.network === "string" ? config.network : config.network.name,
          datasetName: names.get(r.datasetRef) ?? r.datasetRef,
          maxEpoch: config.maxEpoch,
          batchSize: config.batchSize,
          createdAt: r.createdAt.toISOString(),
          updatedAt: r.updatedAt.toISOString(),
          finalGrid: grids.length ? { epoch: grids[grids.length - 1]!.epoch, url: gridUrl(r.id, grids[grids.length - 1]!.epoch) } : null,
          gridCount: grids.length,
          finalLosses: finalLosses ? { gReal: finalLosses.gReal, fake: finalLosses.fake, real: finalLosses.real } : null,
          /** What can be downloaded: the newest checkpoint of each kind (its folder holds only that one). */
          downloads: (await Promise.all((["latest", "best"] as const).map((kind) => ctx.store.latestCheckpoint(r.id, kind))))
            .filter((c) => c !== null)
            .map((c) => ({ kind: c.kind, epoch: Math.round(c.epoch), iteration: c.iteration, bytes: c.bytes })),
          checkpoints: (await ctx.store.listCheckpoints(r.id)).map((c) => ({
            id: c.id,
            kind: c.kind,
            epoch: c.epoch,
            iteration: c.iteration,
            bytes: c.bytes,
            createdAt: c.createdAt.toISOString(),
          })),
        };
      }),
    );
  }),
  start: authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    await ctx.runs.start(input.runId, ctx.userId).catch(toTrpc);
    return { ok: true };
  }),
  pause: authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    try {
      ctx.runs.pause(input.runId, ctx.userId);
    } catch (e) {
      toTrpc(e);
    }
    return { ok: true };
  }),
  resume: authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    try {
      ctx.runs.resume(input.runId, ctx.userId);
    } catch (e) {
      toTrpc(e);
    }
    return { ok: true };
  }),
  stop: authedProcedure.input(z.object({ runId: id })).mutation(async ({ ctx, input }) => {
    await runInSession(ctx, input.runId, "editor");
    try {
      ctx.runs.stop(input.runId, ctx.userId);
    } catch (e) {
      toTrpc(e);
    }
    return { ok: true };
  }),
  setLrMultiplier: authedProcedure
    .input(z.object({ runId: id, scope: z.string().min(1).max(100), param: z.enum(["W", "b", "beta", "gamma"]), value: z.number().min(0).max(100) }))
    .mutation(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "editor");
      await ctx.runs.setLrMultiplier(input.runId, ctx.userId, input.scope, input.param, input.value).catch(toTrpc);
      return { ok: true };
    }),
  setFrozen: authedProcedure
    .input(z.object({ runId: id, part: z.enum(["generator", "discriminator"]), frozen: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "editor");
      const changed = await ctx.runs.setPartFrozen(input.runId, ctx.userId, input.part, input.frozen).catch(toTrpc);
      return { changed };
    }),
  setAlpha: authedProcedure
    .input(z.object({ runId: id, network: z.enum(NETWORKS), alpha: z.number().positive().max(1) }))
    .mutation(async ({ ctx, input }) => {
      await runInSession(ctx, input.runId, "editor");
      await ctx.runs.setAlpha(input.runId, ctx.userId, input.network, input.alpha).catch(toTrpc);
      return { ok: true };
    }),
  /** RuntimeGenerator: base64 PNGs and what they show; viewers may use it. */
  generate: authedProcedure
    .input(z.object({ runId: id, label: z.number().int().min(0).max(999), seed: z.number().int().min(0).max(2 ** 32 - 1).default(0), count: z.number().int().min(1).max(64).default(1), seedB: z.number().int().min(0).max(2 ** 32 - 1).optional() }))
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
  size: z
    .tuple([z.number().int().min(4).max(64), z.number().int().min(4).max(64)], { message: "size is [height, width], 4–64 each" })
    .optional(),
});

/** Upload errors as tRPC errors. */
function uploadTrpc(e: unknown): never {
  if (e instanceof UploadError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
  throw e;
}

const datasetsRouter = router({
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
    return ctx.uploads.save(ctx.userId, input).catch(uploadTrpc);
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
      const files = input.files.map((f) => {
        const taken = (() => {
          try {
            return ctx.uploads.take(ctx.userId, f.uploadId);
          } catch (e) {
            return uploadTrpc(e);
          }
        })();
        return { name: f.name, path: taken.file, bytes: taken.bytes };
      });
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

export const appRouter = router({ auth: authRouter, sessions: sessionsRouter, runs: runsRouter, datasets: datasetsRouter });
export type AppRouter = typeof appRouter;
