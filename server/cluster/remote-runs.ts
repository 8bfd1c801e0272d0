/**
 * Controls of a run whose trainer is a child of another web process: the process that got the request (its caller
 * already checked the member's role) sends the control to every other process over socket.io's server-side events
 * (the Redis adapter); the one whose child trains the run applies it like a local control and answers; the others
 * answer "not here". The trainer's confirmation (with the iteration it took effect at) comes back as every push does:
 * through the adapter, to every viewer on every process.
 */
import type { Server } from "socket.io";
import { z } from "zod";
import { PARTS, PARAMETER_NAMES, TRAINING_NETWORKS } from "../../lib/gan/vocabulary";
import { RunError, type RunErrorCode } from "../runs/errors";

export const RemoteControlSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.enum(["pause", "resume", "stop"]) }),
  z.object({ kind: z.literal("lrMultiplier"), scope: z.string().min(1).max(100), param: z.enum(PARAMETER_NAMES), value: z.number().finite() }),
  z.object({ kind: z.literal("frozen"), part: z.enum(PARTS), frozen: z.boolean() }),
  z.object({ kind: z.literal("alpha"), network: z.enum(TRAINING_NETWORKS), alpha: z.number().positive() }),
]);
export type RemoteControl = z.infer<typeof RemoteControlSchema>;

const MessageSchema = z.object({ runId: z.string().min(1).max(100), userId: z.string().min(1).max(100), control: RemoteControlSchema });
type Answer = { here: false } | { here: true; result: number | null } | { here: true; error: { code: RunErrorCode; message: string } };

const EVENT = "gan:run-control";

/** What a process does with a control of a run its own child trains (null: no child of it trains the run). */
export type LocalControl = (runId: string, userId: string, control: RemoteControl) => Promise<number | null> | null;

export interface RemoteRuns {
  /** Sends the control to the process that trains the run; null when none does. Throws its RunError. */
  control(runId: string, userId: string, control: RemoteControl): Promise<{ result: number | null } | null>;
}

export function attachRemoteRuns(io: Server, local: LocalControl): RemoteRuns {
  // Server-side events are not part of the typed browser contract: the untyped emitter of the same server.
  const ioAny = io as unknown as {
    on(event: string, listener: (msg: unknown, reply: (a: Answer) => void) => void): void;
    serverSideEmit(event: string, msg: unknown, cb: (err: Error | null, answers: Answer[]) => void): void;
  };
  ioAny.on(EVENT, (msg, reply) => {
    const parsed = MessageSchema.safeParse(msg);
    if (!parsed.success) return reply({ here: false });
    const { runId, userId, control } = parsed.data;
    const applied = local(runId, userId, control);
    if (applied === null) return reply({ here: false });
    applied.then(
      (result) => reply({ here: true, result }),
      (e: unknown) =>
        reply({
          here: true,
          error: e instanceof RunError ? { code: e.code, message: e.message } : { code: "UNAVAILABLE", message: e instanceof Error ? e.message : String(e) },
        }),
    );
  });
  return {
    control: (runId, userId, control) =>
      new Promise((resolve, reject) => {
        // The adapter waits for every other process's answer up to its requestsTimeout (REQUESTS_TIMEOUT_MS, server/cluster/node.ts).
        ioAny.serverSideEmit(EVENT, { runId, userId, control }, (_err, answers) => {
          // A process that did not answer in time is not the one training the run (or is dying): its lease tells.
          const hit = (answers ?? []).find((a) => a.here);
          if (!hit) return resolve(null);
          if ("error" in hit) return reject(new RunError(hit.error.code, hit.error.message));
          resolve({ result: hit.result });
        });
      }),
  };
}
