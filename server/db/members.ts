// Members of a session and their ceilings: the owner's last decision about a demoted ("viewer") or removed ("none")
// member, which no invite link lifts (invites.ts reads it).
import type { Prisma } from "./generated/client";
import { asRole, type Role, roleAtLeast, type StoreDb, StoreError, storeError } from "./shared";

export interface MemberRecord {
  userId: string;
  name: string;
  email: string;
  role: Role;
}

export class MemberStore {
  constructor(private readonly db: StoreDb) {}

  async getMembership(userId: string, sessionId: string): Promise<{ role: Role } | null> {
    const m = await this.db.prisma.membership.findUnique({
      where: { userId_sessionId: { userId, sessionId } },
      select: { role: true },
    });
    return m ? { role: asRole(m.role) } : null;
  }

  /**
   * Makes the user a member with the role, or, when already a member, keeps the higher of the two roles (an owner is
   * never downgraded). Returns the role the user now has.
   */
  async addMember(sessionId: string, userId: string, role: Role): Promise<{ role: Role }> {
    try {
      return await this.db.prisma.$transaction(async (tx) => {
        const existing = await tx.membership.findUnique({
          where: { userId_sessionId: { userId, sessionId } },
          select: { role: true },
        });
        if (!existing) {
          await tx.membership.create({ data: { userId, sessionId, role, createdAt: this.db.now() } });
          return { role };
        }
        const current = asRole(existing.role);
        if (roleAtLeast(current, role)) return { role: current };
        await tx.membership.update({ where: { userId_sessionId: { userId, sessionId } }, data: { role } });
        return { role };
      });
    } catch (e) {
      throw storeError(e, { notFound: `no session ${sessionId} or no user ${userId}` });
    }
  }

  /**
   * Sets a member's role (editor or viewer; up or down). The owner's role cannot change (CONFLICT); NOT_FOUND when
   * the user is not a member. Returns the role before. Also records the decision as the member's ceiling: "viewer"
   * keeps every later invite from raising them; "editor" lifts the ceiling. `setById`: who decided (default: the
   * session's owner).
   */
  async setMemberRole(sessionId: string, userId: string, role: "editor" | "viewer", setById?: string): Promise<{ from: Role }> {
    return this.db.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner's role cannot change");
      await tx.membership.update({ where: { userId_sessionId: { userId, sessionId } }, data: { role } });
      await this.writeCeiling(tx, sessionId, userId, role === "viewer" ? "viewer" : null, setById);
      return { from: asRole(m.role) };
    });
  }

  /**
   * Removes a member (not the owner: CONFLICT; NOT_FOUND when not a member). Returns the role they had. Records the
   * ceiling "none": invite links made before this moment no longer let them in.
   */
  async removeMember(sessionId: string, userId: string, setById?: string): Promise<{ role: Role }> {
    return this.db.prisma.$transaction(async (tx) => {
      const m = await tx.membership.findUnique({ where: { userId_sessionId: { userId, sessionId } }, select: { role: true } });
      if (!m) throw new StoreError("NOT_FOUND", `user ${userId} is not a member of session ${sessionId}`);
      if (m.role === "owner") throw new StoreError("CONFLICT", "the owner cannot be removed from their session");
      await tx.membership.delete({ where: { userId_sessionId: { userId, sessionId } } });
      await this.writeCeiling(tx, sessionId, userId, "none", setById);
      return { role: asRole(m.role) };
    });
  }

  /** The owner's last decision about a demoted ("viewer") or removed ("none") member, or null. */
  async getCeiling(sessionId: string, userId: string): Promise<{ role: "viewer" | "none"; setById: string; createdAt: Date } | null> {
    const row = await this.db.prisma.memberCeiling.findUnique({ where: { sessionId_userId: { sessionId, userId } } });
    return row ? { role: row.role === "viewer" ? "viewer" : "none", setById: row.setById, createdAt: row.createdAt } : null;
  }

  private async writeCeiling(tx: Prisma.TransactionClient, sessionId: string, userId: string, role: "viewer" | "none" | null, setById?: string): Promise<void> {
    const where = { sessionId_userId: { sessionId, userId } };
    if (role === null) {
      await tx.memberCeiling.deleteMany({ where: { sessionId, userId } });
      return;
    }
    const by = setById ?? (await tx.trainingSession.findUnique({ where: { id: sessionId }, select: { ownerId: true } }))?.ownerId;
    if (!by) throw new StoreError("NOT_FOUND", `no session ${sessionId}`);
    const createdAt = this.db.now();
    await tx.memberCeiling.upsert({ where, create: { sessionId, userId, role, setById: by, createdAt }, update: { role, setById: by, createdAt } });
  }

  /** The session's members in the order they joined (the owner first). */
  async listMembers(sessionId: string): Promise<MemberRecord[]> {
    const rows = await this.db.prisma.membership.findMany({
      where: { sessionId },
      orderBy: { createdAt: "asc" },
      select: { userId: true, role: true, user: { select: { name: true, email: true } } },
    });
    return rows.map((r) => ({ userId: r.userId, name: r.user.name, email: r.user.email, role: asRole(r.role) }));
  }
}
