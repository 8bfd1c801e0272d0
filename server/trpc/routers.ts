/**
 * The API: accounts, sessions (members, invites), runs (create, controls, RuntimeGenerator, history).
 * Inputs are zod schemas; every session-scoped procedure checks membership and role before it acts.
 */
import { createHash, randomBytes } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { octetInputParser } from "@trpc/server/http";
import { z } from "zod";
import { parseConfig } from "../../lib/gan/config";
import { TRAINING_NETWORKS } from "../../lib/gan/spec";
import { ChangePasswordSchema, CredentialsSchema, SignUpSchema, hashPassword, verifyPassword, verifyPasswordOrDummy } from "../auth/auth";
import { DatasetServiceError } from "../datasets/service";
import { StoreError, type InviteRecord, type InviteRefusal } from "../db/store";
import { UploadError } from "../datasets/uploads";
import { gridUrl, RunError } from "../runs/service";
import { oneAtATime, QuotaError } from "../limits";
import { authedProcedure, publicProcedure, quotaTrpc, requireRole, router, type Context } from "./init";

const id = z.string().min(1).max(100);
const NETWORKS = ["Generator", "DiscriminatorFake", "DiscriminatorReal"] as const;

/** Maps the run service's errors to tRPC codes, keeping field issues for forms. */
function toTrpc(e: unknown): never {
  if (e instanceof QuotaError) throw quotaTrpc(e);
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
    await ctx.rateLimits.signUp(ctx.ip).catch(toTrpc);
    const existing = await ctx.store.findUserByEmail(input.email);
    if (existing) throw new TRPCError({ code: "CONFLICT", message: "an account with this email exists: sign in instead" });
    const user = await ctx.store.createUser({ email: input.email, name: input.name, passwordHash: await hashPassword(input.password) });
    await setSession(ctx, user.id, user.sessionVersion);
    return { id: user.id, name: user.name, email: user.email };
  }),
  signIn: publicProcedure.input(CredentialsSchema).mutation(async ({ ctx, input }) => {
    await ctx.rateLimits.signInAttempt(ctx.ip, input.email).catch(toTrpc);
    const user = await ctx.store.findUserByEmail(input.email);
    // One argon2 verification either way (a dummy hash without an account), and one message for both cases: neither
    // the time nor the answer tells which emails have accounts. Failures count per email, account or not.
    if (!(await verifyPasswordOrDummy(user?.passwordHash, input.password)) || !user) {
      await ctx.rateLimits.signInFailed(ctx.ip, input.email);
      throw new TRPCError({ code: "UNAUTHORIZED", message: "wrong email or password" });
    }
    await ctx.rateLimits.signInSucceeded(ctx.ip, input.email);
    await setSession(ctx, user.id, user.sessionVersion);
    return { id: user.id, name: user.name, email: user.email };
  }),
  /** Ends this cookie and every other cookie of the account (every device), then clears it in this browser. */
  signOut: publicProcedure.mutation(async ({ ctx }) => {
    if (ctx.userId) await ctx.store.bumpSessionVersion(ctx.userId).catch(toTrpc);
    const cookie = ctx.sealer.clear();
    ctx.setCookies.push(cookie);
    ctx.res?.appendHeader("Set-Cookie", cookie);
    return { ok: true };
  }),
  /**
   * A new password: the current one is checked (wrong ones count as failed sign-ins of the account), every existing
   * cookie of the account ends, and the caller gets a fresh one.
   */
  changePassword: authedProcedure.input(ChangePasswordSchema).mutation(async ({ ctx, input }) => {
    const user = await ctx.store.getUser(ctx.userId);
    if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
    await ctx.rateLimits.signInAttempt(ctx.ip, user.email).catch(toTrpc);
    if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
      await ctx.rateLimits.signInFailed(ctx.ip, user.email);
      const issues = [{ path: "currentPassword", message: "this is not your current password" }];
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: "the current password is wrong",
        cause: Object.assign(new Error("wrong current password"), { issues }),
      });
    }
    await ctx.rateLimits.signInSucceeded(ctx.ip, user.email);
    const version = await ctx.store.setPassword(user.id, await hashPassword(input.newPassword)).catch(toTrpc);
    await setSession(ctx, user.id, version);
    return { ok: true };
  }),
});

async function setSession(ctx: Context, userId: string, version: number) {
  const cookie = await ctx.sealer.seal({ userId, v: version });
  ctx.setCookies.push(cookie);
  ctx.res?.appendHeader("Set-Cookie", cookie);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** An invite link refused, in words, with `data.invite.reason` for the invite page. */
function inviteRefused(reason: InviteRefusal, invite?: InviteRecord): TRPCError {
  const when = (d: Date) => `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const messages: Record<InviteRefusal, string> = {
    unknown: "this invite link is not valid (revoked or mistyped)",
    revoked: "this invite link is not valid: the session's owner revoked it",
    expired: `this invite link expired${invite?.expiresAt ? ` on ${when(invite.expiresAt)}` : ""}: ask the session's owner for a new one`,
    usedUp: `this invite link is used up${invite?.maxUses ? ` (${invite.maxUses} of ${invite.maxUses} uses)` : ""}: ask the session's owner for a new one`,
    removed: "the session's owner removed you after this invite link was made: only an invite they create from now on lets you back in",
  };
  const message = messages[reason];
  return new TRPCError({ code: reason === "removed" ? "FORBIDDEN" : "NOT_FOUND", message, cause: Object.assign(new Error(message), { invite: { reason } }) });
}

const InviteTokenSchema = z.object({ token: z.string().min(1).max(200) });

const sessionsRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const sessions = await ctx.store.listSessionsForUser(ctx.userId);
    return sessions.map((s) => ({ ...s, watching: ctx.presence.users(s.id) }));
  }),
  create: authedProcedure.input(z.object({ name: z.string().trim().min(1, "name the session").max(80) })).mutation(async ({ ctx, input }) => {
    // The count and the insert it allows, one at a time per user.
    return oneAtATime(`sessions.create:${ctx.userId}`, async () => {
      const limit = ctx.limits.GAN_MAX_SESSIONS_PER_USER;
      const used = await ctx.store.countOwnedSessions(ctx.userId);
      if (used >= limit) {
        throw quotaTrpc(new QuotaError(`you already own ${used} sessions, the most one person may own: use one of them`, { name: "sessions", limit, used }));
      }
      return ctx.store.createSession({ name: input.name, ownerId: ctx.userId });
    });
  }),
  get: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    const role = await requireRole(ctx, input.sessionId, "viewer");
    const session = await ctx.store.getSession(input.sessionId);
    if (!session) throw new TRPCError({ code: "NOT_FOUND", message: "this session does not exist" });
    const runs = (await ctx.store.listRuns(input.sessionId)).map(withoutPaths);
    return { session, role, members: await ctx.store.listMembers(input.sessionId), runs, watching: ctx.presence.users(input.sessionId) };
  }),
  activity: authedProcedure
    .input(z.object({ sessionId: id, runId: id.optional(), limit: z.number().int().min(1).max(1000).default(200) }))
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.sessionId, "viewer");
      const entries = await ctx.store.listActivity(input.sessionId, { ...(input.runId ? { runId: input.runId } : {}), limit: input.limit });
      return entries.map((a) => ({ ...a, createdAt: a.createdAt.toISOString() }));
    }),
  setPauseOnCollapse: authedProcedure.input(z.object({ sessionId: id, value: z.boolean() })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const before = await ctx.store.getSession(input.sessionId);
    await ctx.store.setPauseOnCollapse(input.sessionId, input.value);
    if (before && before.pauseOnCollapse !== input.value) {
      await ctx.runs.recordActivity({
        sessionId: input.sessionId,
        userId: ctx.userId,
        kind: "session.pauseOnCollapse",
        detail: { from: before.pauseOnCollapse, to: input.value },
      });
    }
    return { ok: true };
  }),
  /** An invite link: expires after `expiresInDays` (default GAN_INVITE_DEFAULT_DAYS), adds at most `maxUses` members (default: no limit). */
  createInvite: authedProcedure
    .input(
      z.object({
        sessionId: id,
        role: z.enum(["editor", "viewer"]),
        expiresInDays: z.number().int().min(1).max(365).optional(),
        maxUses: z.number().int().min(1).max(1000).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.sessionId, "owner");
      const token = randomBytes(24).toString("base64url");
      const expiresAt = new Date(Date.now() + (input.expiresInDays ?? ctx.limits.GAN_INVITE_DEFAULT_DAYS) * DAY_MS);
      const invite = await ctx.store.createInvite({
        sessionId: input.sessionId,
        role: input.role,
        createdById: ctx.userId,
        tokenHash: hashToken(token),
        expiresAt,
        maxUses: input.maxUses ?? null,
      });
      // The token is shown once, here; only its hash is stored.
      return { id: invite.id, role: input.role, token, path: `/invite/${token}`, expiresAt: expiresAt.toISOString(), maxUses: invite.maxUses };
    }),
  /** The owner changes a member's role (editor ⇄ viewer); everyone sees it in the activity feed and presence. */
  setRole: authedProcedure.input(z.object({ sessionId: id, userId: id, role: z.enum(["editor", "viewer"]) })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    // Also the member's ceiling: demoted to viewer, no invite raises them again until the owner promotes them here.
    const { from } = await ctx.store.setMemberRole(input.sessionId, input.userId, input.role, ctx.userId).catch(toTrpc);
    if (from !== input.role) {
      const who = await ctx.store.getUser(input.userId);
      await ctx.runs.recordActivity({
        sessionId: input.sessionId,
        userId: ctx.userId,
        kind: "member.role",
        detail: { memberId: input.userId, member: who?.name ?? null, from, to: input.role },
      });
      await ctx.realtime?.membershipChanged(input.sessionId, input.userId, input.role);
    }
    return { role: input.role };
  }),
  /** The owner removes a member: their access ends at once, open pages included. */
  removeMember: authedProcedure.input(z.object({ sessionId: id, userId: id })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const who = await ctx.store.getUser(input.userId);
    // Also the member's ceiling: links made before now no longer let them back in.
    const { role } = await ctx.store.removeMember(input.sessionId, input.userId, ctx.userId).catch(toTrpc);
    // The entry first, so the removed member's open page hears of it (and finds itself forbidden), then the eviction.
    await ctx.runs.recordActivity({
      sessionId: input.sessionId,
      userId: ctx.userId,
      kind: "member.removed",
      detail: { memberId: input.userId, member: who?.name ?? null, role },
    });
    await ctx.realtime?.membershipChanged(input.sessionId, input.userId, null);
    return { ok: true };
  }),
  /** The session's invite links (never their tokens, which were shown once), newest first, revoked ones included. */
  invites: authedProcedure.input(z.object({ sessionId: id })).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const members = await ctx.store.listMembers(input.sessionId);
    const names = new Map(members.map((m) => [m.userId, m.name]));
    return (await ctx.store.listInvites(input.sessionId))
      .map((i) => ({
        id: i.id,
        role: i.role,
        createdByName: names.get(i.createdById) ?? null,
        createdAt: i.createdAt.toISOString(),
        revokedAt: i.revokedAt?.toISOString() ?? null,
        expiresAt: i.expiresAt?.toISOString() ?? null,
        maxUses: i.maxUses,
        uses: i.uses,
      }))
      .reverse();
  }),
  revokeInvite: authedProcedure.input(z.object({ sessionId: id, inviteId: id })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    const invites = await ctx.store.listInvites(input.sessionId);
    if (!invites.some((i) => i.id === input.inviteId)) throw new TRPCError({ code: "NOT_FOUND", message: "no such invite in this session" });
    await ctx.store.revokeInvite(input.inviteId);
    return { ok: true };
  }),
  /**
   * What an invite link offers the signed-in user, before they choose to join: who invites them to which session, as
   * what (and what they would be: never above the owner's last decision about them), until when, how many uses are
   * left. Changes nothing; refused links are the same typed errors as acceptInvite's. Rate limited like acceptInvite.
   */
  inviteInfo: authedProcedure.input(InviteTokenSchema).query(async ({ ctx, input }) => {
    await ctx.rateLimits.inviteAttempt(ctx.ip, ctx.userId).catch(toTrpc);
    const standing = await ctx.store.inviteStanding(hashToken(input.token), ctx.userId);
    if (!standing.ok) throw inviteRefused(standing.reason, "invite" in standing ? standing.invite : undefined);
    const { invite } = standing;
    return {
      sessionName: invite.sessionName,
      invitedBy: invite.createdByName,
      role: invite.role,
      joinsAs: standing.joinsAs,
      /** The caller's role in the session now (null: not a member), and then the session's id. */
      memberRole: standing.memberRole,
      sessionId: standing.memberRole ? invite.sessionId : null,
      /** "viewer" when the owner demoted the caller: the link does not raise them. */
      ceiling: standing.ceiling,
      expiresAt: invite.expiresAt?.toISOString() ?? null,
      usesLeft: invite.maxUses === null ? null : Math.max(0, invite.maxUses - invite.uses),
    };
  }),
  /** Joins the session through an invite link (one transaction: checks, the use, the membership). */
  acceptInvite: authedProcedure.input(InviteTokenSchema).mutation(async ({ ctx, input }) => {
    await ctx.rateLimits.inviteAttempt(ctx.ip, ctx.userId).catch(toTrpc);
    const tokenHash = hashToken(input.token);
    const result = await ctx.store.acceptInvite(tokenHash, ctx.userId).catch(toTrpc);
    if (!result.ok) {
      const standing = result.reason === "unknown" ? null : await ctx.store.inviteStanding(tokenHash, ctx.userId);
      throw inviteRefused(result.reason, standing && "invite" in standing ? standing.invite : undefined);
    }
    if (result.changed) {
      await ctx.store.addActivity({
        sessionId: result.sessionId,
        userId: ctx.userId,
        kind: "member.joined",
        detail: { role: result.role, ...(result.from ? { from: result.from } : {}) },
      });
      if (result.from) await ctx.realtime?.membershipChanged(result.sessionId, ctx.userId, result.role);
    }
    return { sessionId: result.sessionId, role: result.role };
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
    // Queued when every trainer slot is taken: `queuePosition` runs are ahead of it (null: it is starting now).
    const { queuePosition } = await ctx.runs.start(input.runId, ctx.userId).catch(toTrpc);
    return { ok: true, queued: queuePosition !== null, queuePosition };
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
    // A queued run leaves the queue (back to the status it had).
    await ctx.runs.stop(input.runId, ctx.userId).catch(toTrpc);
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
  setAlpha: authedProcedure.input(z.object({ runId: id, network: z.enum(NETWORKS), alpha: z.number().positive().max(1) })).mutation(async ({ ctx, input }) => {
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
