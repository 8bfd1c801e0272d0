/**
 * Invite links as the API hands them out and shows them: a new link's token (shown once; only its hash is stored),
 * a session's links for its owner (never their tokens), and what a link offers the signed-in user before they join.
 */
import { createHash, randomBytes } from "node:crypto";
import type { InviteStanding, Store } from "../db/store";

/** A new invite link's token: 24 random bytes, base64url. */
export const newInviteToken = () => randomBytes(24).toString("base64url");

/** What the database keeps of a token (and looks links up by). */
export const hashInviteToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** The session's invite links (never their tokens, which were shown once), newest first, revoked ones included. */
export async function sessionInvites(store: Pick<Store, "listMembers" | "listInvites">, sessionId: string) {
  const members = await store.listMembers(sessionId);
  const names = new Map(members.map((m) => [m.userId, m.name]));
  return (await store.listInvites(sessionId))
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
}

/**
 * What an invite link the user may use offers them: who invites them to which session, as what (and what they would
 * be: never above the owner's last decision about them), until when, how many uses are left.
 */
export function inviteOffer(standing: Extract<InviteStanding, { ok: true }>) {
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
}
