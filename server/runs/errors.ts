/** The run service's errors: what the API reports (a code, a message, field issues), and a trainer's refusals as such. */

export type RunErrorCode = "BAD_REQUEST" | "NOT_FOUND" | "CONFLICT" | "UNAVAILABLE";
export class RunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "RunError";
  }
}

/** A trainer process's refusal or failure (its command errors) as a RunError. */
export function asRunError(e: unknown): RunError {
  if (e instanceof RunError) return e;
  const err = e as Error & { code?: string };
  if (err.code === "BAD_REQUEST") return new RunError("BAD_REQUEST", err.message);
  if (err.code === "EXITED" || err.code === "TIMEOUT" || err.code === "NOT_READY") return new RunError("UNAVAILABLE", err.message);
  return new RunError("UNAVAILABLE", err.message ?? String(e));
}

/** A queued run's place, as messages say it: "next in line", "2 ahead of it". */
export const ahead = (n: number) => (n === 0 ? "next in line" : `${n} ahead of it`);
