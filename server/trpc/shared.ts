/**
 * What the routers (routers/*.ts) share: the id schema, the services' errors as tRPC errors, the run-and-role check
 * of run-scoped procedures, and a run as browsers see it.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Role } from "../../lib/gan/vocabulary";
import { DatasetServiceError } from "../datasets/service";
import { StoreError } from "../db/store";
import { QuotaError } from "../limits";
import { RunError } from "../runs/service";
import { type Context, quotaTrpc, requireRole } from "./init";

export const id = z.string().min(1).max(100);

/** Maps the run service's errors to tRPC codes, keeping field issues for forms. */
export function toTrpc(e: unknown): never {
  if (e instanceof QuotaError) throw quotaTrpc(e);
  if (e instanceof RunError || e instanceof DatasetServiceError) {
    const code = e.code === "UNAVAILABLE" ? "PRECONDITION_FAILED" : e.code;
    throw new TRPCError({ code, message: e.message, cause: e });
  }
  if (e instanceof StoreError) throw new TRPCError({ code: e.code, message: e.message, cause: e });
  if ((e as { code?: string }).code === "CONFLICT") throw new TRPCError({ code: "CONFLICT", message: (e as Error).message });
  throw e;
}

/** The run (NOT_FOUND when there is none) and the caller's role in its session (FORBIDDEN below `min`). */
export async function runInSession(ctx: Context & { userId: string }, runId: string, min: Role) {
  const run = await ctx.store.getRun(runId);
  if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `run ${runId} does not exist` });
  const role = await requireRole(ctx, run.sessionId, min);
  return { run, role };
}

/** A run as browsers see it: without the server's file paths. */
export const withoutPaths = <T extends { outDir: string }>({ outDir: _outDir, ...run }: T): Omit<T, "outDir"> => run;
