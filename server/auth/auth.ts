/**
 * Accounts and the session cookie. Passwords are hashed with argon2id (@node-rs/argon2); the cookie is sealed
 * with iron-session (AES-256-CBC + HMAC, rotating-password ready): HTTP-only, SameSite=Lax, Secure in production.
 * Nothing here implements cryptography itself.
 */
import { hash, verify } from "@node-rs/argon2";
import { sealData, unsealData } from "iron-session";
import { z } from "zod";

export const COOKIE_NAME = "gan_studio";
const TTL_SECONDS = 60 * 60 * 24 * 14;

export interface SessionUser {
  userId: string;
}

export const hashPassword = (password: string) => hash(password);
export const verifyPassword = (passwordHash: string, password: string) => verify(passwordHash, password).catch(() => false);

export const CredentialsSchema = z.object({
  email: z.string().trim().toLowerCase().email("enter an email address").max(200),
  password: z.string().min(8, "use at least 8 characters").max(200),
});
export const SignUpSchema = CredentialsSchema.extend({ name: z.string().trim().min(1, "enter your name").max(80) });

export class CookieSealer {
  constructor(
    private readonly secret: string,
    private readonly secure: boolean,
  ) {}

  async seal(user: SessionUser): Promise<string> {
    const value = await sealData(user, { password: this.secret, ttl: TTL_SECONDS });
    return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${TTL_SECONDS}${this.secure ? "; Secure" : ""}`;
  }

  clear(): string {
    return `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${this.secure ? "; Secure" : ""}`;
  }

  /** The signed-in user from a Cookie header, or null (no cookie, tampered, expired). */
  async read(cookieHeader: string | undefined): Promise<SessionUser | null> {
    const raw = parseCookies(cookieHeader)[COOKIE_NAME];
    if (!raw) return null;
    try {
      const data = await unsealData<Partial<SessionUser>>(raw, { password: this.secret, ttl: TTL_SECONDS });
      return typeof data.userId === "string" ? { userId: data.userId } : null;
    } catch {
      return null;
    }
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    if (k) out[k] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}
