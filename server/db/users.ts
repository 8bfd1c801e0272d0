// Users: accounts (emails stored trimmed and lower-cased) and the sessionVersion every cookie is checked against.
import { randomUUID } from "node:crypto";
import { type StoreDb, storeError } from "./shared";

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  passwordHash: string;
  /** Sealed into the session cookie; a cookie with an older version no longer signs anyone in. */
  sessionVersion: number;
  createdAt: Date;
}

function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class UserStore {
  constructor(private readonly db: StoreDb) {}

  async createUser(input: { email: string; name: string; passwordHash: string }): Promise<UserRecord> {
    const email = normaliseEmail(input.email);
    try {
      return await this.db.prisma.user.create({
        data: { id: randomUUID(), email, name: input.name, passwordHash: input.passwordHash, createdAt: this.db.now() },
      });
    } catch (e) {
      throw storeError(e, { conflict: `a user with the email ${email} already exists` });
    }
  }

  async findUserByEmail(email: string): Promise<UserRecord | null> {
    return this.db.prisma.user.findUnique({ where: { email: normaliseEmail(email) } });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.db.prisma.user.findUnique({ where: { id } });
  }

  /** The user's sessionVersion (checked on every cookie read), or null when there is no such user. */
  async sessionVersion(id: string): Promise<number | null> {
    const row = await this.db.prisma.user.findUnique({ where: { id }, select: { sessionVersion: true } });
    return row?.sessionVersion ?? null;
  }

  /** Ends every cookie of the user (sign-out): adds one to their sessionVersion and returns the new one. */
  async bumpSessionVersion(id: string): Promise<number> {
    try {
      const row = await this.db.prisma.user.update({ where: { id }, data: { sessionVersion: { increment: 1 } }, select: { sessionVersion: true } });
      return row.sessionVersion;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${id}` });
    }
  }

  /** A new password hash; ends every cookie of the user in the same write. Returns the new sessionVersion. */
  async setPassword(id: string, passwordHash: string): Promise<number> {
    try {
      const row = await this.db.prisma.user.update({
        where: { id },
        data: { passwordHash, sessionVersion: { increment: 1 } },
        select: { sessionVersion: true },
      });
      return row.sessionVersion;
    } catch (e) {
      throw storeError(e, { notFound: `no user ${id}` });
    }
  }
}
