// What the store's aggregates (users.ts, sessions.ts, members.ts, invites.ts, runs.ts, metrics.ts, grids.ts,
// diagnostics.ts, checkpoints.ts, activity.ts, datasets.ts) share: the Prisma client with the store's one clock,
// StoreError and Prisma's errors turned into it, the closed sets stored as strings (roles, run statuses) and their
// checked readers, and JSON written to string columns.
import { Prisma } from "./generated/client";
import type { PrismaClient } from "./generated/client";
import { type Role, ROLES, RUN_STATUSES, type RunStatus } from "../../lib/gan/vocabulary";

// The closed sets stored as strings are the vocabulary's: roles lowest first (members keep the higher of two roles,
// invites never lower one: roleAtLeast), run statuses ("queued": waiting for a trainer slot, server/runs/trainer-slots.ts).
export { type Role, ROLES, roleAtLeast, RUN_STATUSES, type RunStatus } from "../../lib/gan/vocabulary";

export type StoreErrorCode = "CONFLICT" | "NOT_FOUND";

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The database every aggregate of one Store writes to, and the clock they share. */
export class StoreDb {
  /**
   * Last timestamp handed out. Every time this store writes (createdAt, Run.updatedAt) is strictly later than the one
   * before, even within a millisecond, so "latest", "most recently active" and "chronological" are exact.
   */
  private lastMs = 0;

  constructor(readonly prisma: PrismaClient) {}

  now(): Date {
    const t = Math.max(Date.now(), this.lastMs + 1);
    this.lastMs = t;
    return new Date(t);
  }
}

export function asRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new Error(`unknown role in the database: ${JSON.stringify(value)}`);
}

export function asStatus(value: string): RunStatus {
  if ((RUN_STATUSES as readonly string[]).includes(value)) return value as RunStatus;
  throw new Error(`unknown run status in the database: ${JSON.stringify(value)}`);
}

export function toJson(value: unknown, what: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return json;
}

export function prismaCode(e: unknown): string | undefined {
  return e instanceof Prisma.PrismaClientKnownRequestError ? e.code : undefined;
}

/** Turns Prisma's unique (P2002), foreign key (P2003) and missing-row (P2025) errors into StoreErrors. */
export function storeError(e: unknown, messages: { conflict?: string; notFound?: string }): unknown {
  const code = prismaCode(e);
  if (code === "P2002" && messages.conflict) return new StoreError("CONFLICT", messages.conflict, { cause: e });
  if ((code === "P2003" || code === "P2025") && messages.notFound) return new StoreError("NOT_FOUND", messages.notFound, { cause: e });
  return e;
}
