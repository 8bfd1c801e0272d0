/**
 * The services this process stands on (its database, and Redis in a cluster), watched every few seconds and told to
 * this process's own connections when their state changes, so every page can say "the database is lost" and then
 * "back" by itself. Each process tells only its own connections (`io.local`): what it can reach is its own state,
 * and in a cluster whose Redis is lost a broadcast through Redis would not arrive anyway.
 */
import type { ServicesPush } from "../../lib/protocol/socket";
import type { IO } from "./socket";

/** What a check finds: whether the database answers, and Redis (null: no Redis, one process alone). */
export interface ServiceStates {
  database: boolean;
  redis: boolean | null;
}

export interface ServiceWatch {
  stop(): void;
}

/** How long one check may take before the service counts as lost (a dead host can hang a connection attempt). */
const CHECK_TIMEOUT_MS = 3_000;

export function watchServices(
  io: IO,
  kind: ServicesPush["database"]["kind"],
  probe: () => Promise<ServiceStates>,
  opts: { intervalMs?: number } = {},
): ServiceWatch {
  let state: ServicesPush | null = null;
  let inFlight: Promise<ServicesPush> | null = null;

  const same = (a: ServicesPush, b: ServiceStates) => a.database.ok === b.database && (a.redis?.ok ?? null) === b.redis;
  const allOk = (s: ServicesPush) => s.database.ok && (s.redis?.ok ?? true);

  const timedProbe = async (): Promise<ServiceStates> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), CHECK_TIMEOUT_MS);
    });
    try {
      const got = await Promise.race([probe(), late]);
      if (got) return got;
      // No answer in time: both count as lost (Redis only where there is one).
      return { database: false, redis: state?.redis ? false : null };
    } finally {
      clearTimeout(timer);
    }
  };

  const check = (): Promise<ServicesPush> => {
    inFlight ??= timedProbe()
      .then((seen) => {
        if (!state || !same(state, seen)) {
          const first = state === null;
          state = { database: { kind, ok: seen.database }, redis: seen.redis === null ? null : { ok: seen.redis }, since: Date.now() };
          // A page assumes all is well: the first state needs telling only when it is not.
          if (!first || !allOk(state)) io.local.emit("services", state);
        }
        return state;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  // A page that connects while something is down learns it at once.
  io.on("connection", (socket) => {
    if (state && !allOk(state)) socket.emit("services", state);
  });

  const timer = setInterval(() => void check().catch((e: unknown) => console.error("checking the services failed:", e)), opts.intervalMs ?? 2_000);
  timer.unref();
  void check().catch(() => undefined);

  return { stop: () => clearInterval(timer) };
}
