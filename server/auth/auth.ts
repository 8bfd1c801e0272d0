/**
 * Accounts and the session cookie. Passwords are hashed with argon2id (@node-rs/argon2); the cookie is sealed
 * with iron-session (AES-256-CBC + HMAC, rotating-password ready): HTTP-only, SameSite=Lax, Secure in production.
 * The cookie seals the user's id and their `sessionVersion`; every read checks the version against the database,
 * so sign-out and a password change (which add one to it) end every cookie sealed before.
 * Nothing here implements cryptography itself.
 */
import { randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { sealData, unsealData } from "iron-session";
import { z } from "zod";

export const COOKIE_NAME = "gan_studio";
const TTL_SECONDS = 60 * 60 * 24 * 14;

export interface SessionUser {
  userId: string;
  /** The user's sessionVersion when the cookie was sealed. */
  v: number;
}

export const hashPassword = (password: string) => hash(password);
export const verifyPassword = (passwordHash: string, password: string) => verify(passwordHash, password).catch(() => false);

let dummyHash: Promise<string> | undefined;
/**
 * Verifies a password against an account's hash, or, when there is no account, against a dummy hash made once per
 * process with the same parameters, so a sign-in takes as long whether or not the email has an account. Always false
 * without an account.
 */
export async function verifyPasswordOrDummy(passwordHash: string | null | undefined, password: string): Promise<boolean> {
  if (passwordHash) return verifyPassword(passwordHash, password);
  dummyHash ??= hashPassword(randomBytes(16).toString("base64url"));
  await verifyPassword(await dummyHash, password);
  return false;
}

export const CredentialsSchema = z.object({
  email: z.string().trim().toLowerCase().email("enter an email address").max(200),
  password: z.string().min(8, "use at least 8 characters").max(200),
});
export const SignUpSchema = CredentialsSchema.extend({ name: z.string().trim().min(1, "enter your name").max(80) });
export const ChangePasswordSchema = z.object({
  currentPassword: z.string().min(1, "enter your current password").max(200),
  newPassword: CredentialsSchema.shape.password,
});

/** The user's current sessionVersion, or null when the user does not exist (one database read). */
export type VersionOf = (userId: string) => Promise<number | null>;

export class CookieSealer {
  constructor(
    private readonly secret: string,
    private readonly secure: boolean,
    /** Checked on every read: a cookie sealed with another version (or for a deleted user) reads as signed out. */
    private readonly versionOf: VersionOf,
  ) {}

  async seal(user: SessionUser): Promise<string> {
    const value = await sealData(user, { password: this.secret, ttl: TTL_SECONDS });
    return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${TTL_SECONDS}${this.secure ? "; Secure" : ""}`;
  }

  clear(): string {
    return `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${this.secure ? "; Secure" : ""}`;
  }

  /**
   * The signed-in user from a Cookie header, or null: no cookie, tampered, expired, sealed without a version (before
   * versions existed), or ended (signed out, password changed, user gone: its version is no longer the user's).
   */
  async read(cookieHeader: string | undefined): Promise<SessionUser | null> {
    const raw = parseCookies(cookieHeader)[COOKIE_NAME];
    if (!raw) return null;
    let data: Partial<SessionUser>;
    try {
      data = await unsealData<Partial<SessionUser>>(raw, { password: this.secret, ttl: TTL_SECONDS });
    } catch {
      return null;
    }
    if (typeof data.userId !== "string" || typeof data.v !== "number") return null;
    const current = await this.versionOf(data.userId);
    return current === data.v ? { userId: data.userId, v: data.v } : null;
  }
}

/** The cookies of a Cookie header by name. Never throws: a value that does not percent-decode is skipped. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    if (!k) continue;
    try {
      out[k] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // Malformed percent-encoding (`x=%`): ignored, as if the cookie were absent.
    }
  }
  return out;
}
