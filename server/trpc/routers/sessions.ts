/** `sessions.*`: a user's sessions, one session with its members and runs, activity, members' roles and invite links. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { INVITE_ROLES } from "../../../lib/gan/vocabulary";
import type { InviteRecord, InviteRefusal } from "../../db/store";
import { oneAtATime, QuotaError } from "../../limits";
import { hashInviteToken, inviteOffer, newInviteToken, sessionInvites } from "../../sessions/invites";
import { authedProcedure, quotaTrpc, requireRole, router } from "../init";
import { id, toTrpc, withoutPaths } from "../shared";

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

export const sessionsRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const sessions = await ctx.store.listSessionsForUser(ctx.userId);
    return Promise.all(sessions.map(async (s) => ({ ...s, watching: await ctx.presence.users(s.id) })));
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
    return { session, role, members: await ctx.store.listMembers(input.sessionId), runs, watching: await ctx.presence.users(input.sessionId) };
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
      await ctx.activity.record({
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
        role: z.enum(INVITE_ROLES),
        expiresInDays: z.number().int().min(1).max(365).optional(),
        maxUses: z.number().int().min(1).max(1000).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.sessionId, "owner");
      const token = newInviteToken();
      const expiresAt = new Date(Date.now() + (input.expiresInDays ?? ctx.limits.GAN_INVITE_DEFAULT_DAYS) * DAY_MS);
      const invite = await ctx.store.createInvite({
        sessionId: input.sessionId,
        role: input.role,
        createdById: ctx.userId,
        tokenHash: hashInviteToken(token),
        expiresAt,
        maxUses: input.maxUses ?? null,
      });
      // The token is shown once, here; only its hash is stored.
      return { id: invite.id, role: input.role, token, path: `/invite/${token}`, expiresAt: expiresAt.toISOString(), maxUses: invite.maxUses };
    }),
  /** The owner changes a member's role (editor ⇄ viewer); everyone sees it in the activity feed and presence. */
  setRole: authedProcedure.input(z.object({ sessionId: id, userId: id, role: z.enum(INVITE_ROLES) })).mutation(async ({ ctx, input }) => {
    await requireRole(ctx, input.sessionId, "owner");
    // Also the member's ceiling: demoted to viewer, no invite raises them again until the owner promotes them here.
    const { from } = await ctx.store.setMemberRole(input.sessionId, input.userId, input.role, ctx.userId).catch(toTrpc);
    if (from !== input.role) {
      const who = await ctx.store.getUser(input.userId);
      await ctx.activity.record({
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
    await ctx.activity.record({
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
    return sessionInvites(ctx.store, input.sessionId);
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
    const standing = await ctx.store.inviteStanding(hashInviteToken(input.token), ctx.userId);
    if (!standing.ok) throw inviteRefused(standing.reason, "invite" in standing ? standing.invite : undefined);
    return inviteOffer(standing);
  }),
  /** Joins the session through an invite link (one transaction: checks, the use, the membership). */
  acceptInvite: authedProcedure.input(InviteTokenSchema).mutation(async ({ ctx, input }) => {
    await ctx.rateLimits.inviteAttempt(ctx.ip, ctx.userId).catch(toTrpc);
    const tokenHash = hashInviteToken(input.token);
    const result = await ctx.store.acceptInvite(tokenHash, ctx.userId).catch(toTrpc);
    if (!result.ok) {
      const standing = result.reason === "unknown" ? null : await ctx.store.inviteStanding(tokenHash, ctx.userId);
      throw inviteRefused(result.reason, standing && "invite" in standing ? standing.invite : undefined);
    }
    if (result.changed) {
      // Recorded and pushed: everyone in the session sees who joined, at once.
      await ctx.activity.record({
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
