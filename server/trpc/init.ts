/**
 * tRPC's building blocks: the context every procedure gets, the error formatter (field errors for forms), and
 * the only procedures routers may use: `publicProcedure` and `authedProcedure` (signed in, else UNAUTHORIZED).
 * Membership and roles are checked per session with `requireRole`.
 */
import type { ServerResponse } from "node:http";
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { type Role, roleAtLeast } from "../../lib/gan/vocabulary";
import type { ActivityLog } from "../activity/log";
import type { CookieSealer } from "../auth/auth";
import type { RateLimits } from "../auth/rate-limits";
import type { DatasetService } from "../datasets/service";
import type { UploadArea } from "../datasets/uploads";
import type { Store } from "../db/store";
import { QuotaError, type Limits } from "../limits";
import type { PresenceBook } from "../realtime/presence";
import type { Realtime } from "../realtime/socket";
import type { RunService } from "../runs/service";

export interface Context {
  userId: string | null;
  store: Store;
  /** Where the routers record activity (stored, then pushed to the session). */
  activity: ActivityLog;
  runs: RunService;
  datasets: DatasetService;
  uploads: UploadArea;
  sealer: CookieSealer;
  presence: PresenceBook;
  /** Absent in createCaller tests without sockets. */
  realtime?: Realtime;
  /** Present for HTTP calls (to set the session cookie); absent in createCaller tests. */
  res?: ServerResponse;
  /** Cookies set during the call (tests read them here). */
  setCookies: string[];
  /** Every limit and quota (server/limits.ts). */
  limits: Limits;
  /** The caller's address (rate limits); "local" in createCaller tests. */
  ip: string;
  /** Sign-in, sign-up and invite rate limits: one set per server (server/auth/rate-limits.ts). */
  rateLimits: RateLimits;
  /** The request's declared Content-Length (null when it declared none). */
  contentLength: number | null;
}

/** A quota hit as a tRPC error: TOO_MANY_REQUESTS with the quota in `data.quota`. */
export function quotaTrpc(e: QuotaError): TRPCError {
  return new TRPCError({ code: "TOO_MANY_REQUESTS", message: e.message, cause: e });
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const issues =
      cause instanceof ZodError
        ? cause.issues.map((i) => ({ path: i.path.join("."), message: i.message }))
        : ((cause as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? null);
    // An import's own error (lib/gan/data DatasetError: code, file, row), so the page can point at the file and row.
    const dataset = (cause as { dataset?: { code: string; file?: string; row?: number } } | undefined)?.dataset ?? null;
    // A quota or rate limit (server/limits.ts QuotaError): what was full, its limit and use, when to retry.
    const quota = cause instanceof QuotaError ? cause.quota : null;
    // Why an invite link was refused ("unknown" | "revoked" | "expired" | "usedUp" | "removed"), for the invite page.
    const invite = (cause as { invite?: { reason: string } } | undefined)?.invite ?? null;
    return { ...shape, data: { ...shape.data, issues, dataset, quota, invite } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Whether a text anywhere in a JSON input holds U+0000. PostgreSQL cannot store it in text (it fails the query),
 * so it is refused up front on every database, one behaviour for both. Only plain objects and arrays are walked
 * (an upload's body is a stream: not looked into), to a bounded depth (inputs are bounded by the body limits).
 */
function holdsNul(v: unknown, depth = 0): boolean {
  if (typeof v === "string") return v.includes("\u0000");
  if (depth > 64 || v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some((x) => holdsNul(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const [k, x] of Object.entries(v)) if (k.includes("\u0000") || holdsNul(x, depth + 1)) return true;
  return false;
}

/** Every procedure: inputs with a NUL character are refused (BAD_REQUEST) before anything reads them. */
export const publicProcedure = t.procedure.use(async ({ getRawInput, next }) => {
  const raw = await getRawInput().catch(() => undefined);
  if (holdsNul(raw)) throw new TRPCError({ code: "BAD_REQUEST", message: "the input holds a NUL character (U+0000), which no field accepts" });
  return next();
});

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.userId) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return next({ ctx: { ...ctx, userId: ctx.userId } });
});

/** The caller's role in a session, or FORBIDDEN (not a member, or below `min`). */
export async function requireRole(ctx: { store: Store; userId: string }, sessionId: string, min: Role): Promise<Role> {
  const m = await ctx.store.getMembership(ctx.userId, sessionId);
  if (!m) throw new TRPCError({ code: "FORBIDDEN", message: "you are not a member of this session" });
  if (!roleAtLeast(m.role, min)) {
    throw new TRPCError({ code: "FORBIDDEN", message: `${m.role}s cannot do this: it needs the ${min} role` });
  }
  return m.role;
}
