// Invite links: stored by their token's hash, revoked (kept for the record), judged against the owner's last decision
// about the user (members.ts ceilings) and accepted in one transaction.
import { randomUUID } from "node:crypto";
import type { Invite } from "./generated/client";
import type { MemberStore } from "./members";
import { asRole, type Role, roleAtLeast, type StoreDb, StoreError, storeError } from "./shared";

export interface InviteRecord {
  id: string;
  sessionId: string;
  tokenHash: string;
  role: Role;
  createdById: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** Refused from this time on; null only for links made before invites expired. */
  expiresAt: Date | null;
  /** Members it may add or raise; null: no limit. */
  maxUses: number | null;
  uses: number;
}

/** Why an invite link does not let this user in. */
export type InviteRefusal = "unknown" | "revoked" | "expired" | "usedUp" | "removed";

export interface InviteDetails extends InviteRecord {
  sessionName: string;
  createdByName: string;
}

/**
 * Where a user stands with an invite link: refused (and why), or the role they would have after accepting it
 * (`joinsAs`, never above the owner's last decision about them) and the one they have now (`memberRole`).
 */
export type InviteStanding =
  | { ok: false; reason: "unknown" }
  | { ok: false; reason: Exclude<InviteRefusal, "unknown">; invite: InviteDetails }
  | { ok: true; invite: InviteDetails; memberRole: Role | null; joinsAs: Role; ceiling: "viewer" | null };

/** The result of accepting: refused, or the member's role now (`changed`: the link added them or raised them). */
export type InviteAcceptance = { ok: false; reason: InviteRefusal } | { ok: true; sessionId: string; role: Role; from: Role | null; changed: boolean };

function toInvite(row: Invite): InviteRecord {
  return { ...row, role: asRole(row.role) };
}

/**
 * The invite rules, in one place: a revoked or expired link is refused; for a removed member ("none") a link made
 * before the removal does nothing (refused, or, once they are back through a newer link, no change); a demoted one
 * ("viewer") is viewer at most; a member the link would not raise changes nothing (and uses nothing); otherwise a
 * link with no uses left is refused.
 */
function judgeInvite(
  invite: InviteRecord,
  ceiling: { role: "viewer" | "none"; createdAt: Date } | null,
  memberRole: Role | null,
  now: Date,
): { ok: false; reason: Exclude<InviteRefusal, "unknown"> } | { ok: true; joinsAs: Role; changes: boolean } {
  if (invite.revokedAt !== null) return { ok: false, reason: "revoked" };
  if (invite.expiresAt !== null && invite.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: "expired" };
  if (ceiling?.role === "none" && invite.createdAt.getTime() <= ceiling.createdAt.getTime()) {
    return memberRole === null ? { ok: false, reason: "removed" } : { ok: true, joinsAs: memberRole, changes: false };
  }
  let joinsAs: Role = ceiling?.role === "viewer" ? "viewer" : invite.role;
  if (memberRole !== null && roleAtLeast(memberRole, joinsAs)) joinsAs = memberRole;
  const changes = joinsAs !== memberRole;
  if (changes && invite.maxUses !== null && invite.uses >= invite.maxUses) return { ok: false, reason: "usedUp" };
  return { ok: true, joinsAs, changes };
}

export class InviteStore {
  constructor(
    private readonly db: StoreDb,
    private readonly members: MemberStore,
  ) {}

  async createInvite(input: {
    sessionId: string;
    role: Role;
    createdById: string;
    tokenHash: string;
    expiresAt?: Date | null;
    maxUses?: number | null;
  }): Promise<InviteRecord> {
    try {
      const row = await this.db.prisma.invite.create({
        data: {
          id: randomUUID(),
          sessionId: input.sessionId,
          role: input.role,
          createdById: input.createdById,
          tokenHash: input.tokenHash,
          createdAt: this.db.now(),
          expiresAt: input.expiresAt ?? null,
          maxUses: input.maxUses ?? null,
        },
      });
      return toInvite(row);
    } catch (e) {
      throw storeError(e, {
        conflict: "an invite with this token already exists",
        notFound: `no session ${input.sessionId} or no user ${input.createdById}`,
      });
    }
  }

  /** The invite with this token hash, or null when there is none or it was revoked. */
  async findActiveInvite(tokenHash: string): Promise<InviteRecord | null> {
    const row = await this.db.prisma.invite.findUnique({ where: { tokenHash } });
    return row && row.revokedAt === null ? toInvite(row) : null;
  }

  /** Revokes the invite (kept for the record); revoking it again keeps the first revocation time. */
  async revokeInvite(id: string): Promise<InviteRecord> {
    await this.db.prisma.invite.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: this.db.now() } });
    const row = await this.db.prisma.invite.findUnique({ where: { id } });
    if (!row) throw new StoreError("NOT_FOUND", `no invite ${id}`);
    return toInvite(row);
  }

  /**
   * What an invite link would do for this user, without changing anything (the invite page shows it before the
   * user chooses to join). The same rules as {@link acceptInvite}.
   */
  async inviteStanding(tokenHash: string, userId: string, now: Date = new Date()): Promise<InviteStanding> {
    const row = await this.db.prisma.invite.findUnique({
      where: { tokenHash },
      include: { session: { select: { name: true } }, createdBy: { select: { name: true } } },
    });
    if (!row) return { ok: false, reason: "unknown" };
    const { session, createdBy, ...bare } = row;
    const invite: InviteDetails = { ...toInvite(bare), sessionName: session.name, createdByName: createdBy.name };
    const [ceiling, member] = await Promise.all([this.members.getCeiling(invite.sessionId, userId), this.members.getMembership(userId, invite.sessionId)]);
    const verdict = judgeInvite(invite, ceiling, member?.role ?? null, now);
    if (!verdict.ok) return { ok: false, reason: verdict.reason, invite };
    return { ok: true, invite, memberRole: member?.role ?? null, joinsAs: verdict.joinsAs, ceiling: ceiling?.role === "viewer" ? "viewer" : null };
  }

  /**
   * Accepts an invite link in one transaction: checks it (revoked, expired, used up), applies the owner's last
   * decision about the user (removed: only a link made after the removal lets them back in; demoted: never above
   * viewer), counts the use and makes the membership, so two accepts of a last use cannot both win. A member the link
   * would not raise keeps their role and uses nothing.
   */
  async acceptInvite(tokenHash: string, userId: string, now: Date = new Date()): Promise<InviteAcceptance> {
    try {
      return await this.db.prisma.$transaction(async (tx): Promise<InviteAcceptance> => {
        const row = await tx.invite.findUnique({ where: { tokenHash } });
        if (!row) return { ok: false, reason: "unknown" };
        const invite = toInvite(row);
        const { sessionId } = invite;
        const key = { userId_sessionId: { userId, sessionId } };
        const ceilingRow = await tx.memberCeiling.findUnique({ where: { sessionId_userId: { sessionId, userId } } });
        const ceiling = ceilingRow ? { role: ceilingRow.role === "viewer" ? ("viewer" as const) : ("none" as const), createdAt: ceilingRow.createdAt } : null;
        const member = await tx.membership.findUnique({ where: key, select: { role: true } });
        const from = member ? asRole(member.role) : null;
        const verdict = judgeInvite(invite, ceiling, from, now);
        if (!verdict.ok) return { ok: false, reason: verdict.reason };
        if (!verdict.changes) return { ok: true, sessionId, role: from!, from, changed: false };
        // The use is taken by a conditional update, so the last use goes to exactly one caller.
        const taken = await tx.invite.updateMany({
          where: { id: invite.id, revokedAt: null, ...(invite.maxUses !== null ? { uses: { lt: invite.maxUses } } : {}) },
          data: { uses: { increment: 1 } },
        });
        if (taken.count === 0) return { ok: false, reason: "usedUp" };
        if (member) await tx.membership.update({ where: key, data: { role: verdict.joinsAs } });
        else await tx.membership.create({ data: { userId, sessionId, role: verdict.joinsAs, createdAt: this.db.now() } });
        // A "none" ceiling stays after a rejoin: links made before the removal still do nothing for them.
        return { ok: true, sessionId, role: verdict.joinsAs, from, changed: true };
      });
    } catch (e) {
      throw storeError(e, { notFound: `no user ${userId}` });
    }
  }

  /** All the session's invites, revoked ones included, oldest first. */
  async listInvites(sessionId: string): Promise<InviteRecord[]> {
    const rows = await this.db.prisma.invite.findMany({ where: { sessionId }, orderBy: { createdAt: "asc" } });
    return rows.map(toInvite);
  }
}
