/**
 * Test clients that talk to a real server the way the browser does: tRPC over HTTP with a cookie jar, and
 * socket.io with the same cookie.
 */
import { createTRPCClient, httpBatchLink, httpLink, isNonJsonSerializable, splitLink, TRPCClientError } from "@trpc/client";
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../lib/protocol/socket";
import type { AppRouter } from "../../server/trpc/root";

export interface Person {
  api: ReturnType<typeof createTRPCClient<AppRouter>>;
  cookie: () => string;
  /** A GET (or `init`'s method) with this person's cookie; `headers` are added to it. */
  fetch: (path: string, init?: { headers?: Record<string, string> }) => Promise<Response>;
}

export function person(baseUrl: string): Person {
  let cookie = "";
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0]!;
      cookie = pair.endsWith("=") ? "" : pair;
    }
  };
  const withCookie = async (url: string | URL | Request, init?: RequestInit | { body?: unknown; headers?: unknown }) => {
    const res = await fetch(url as string, {
      ...(init as RequestInit),
      headers: { ...(init?.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
    });
    remember(res);
    return res;
  };
  // Uploads (FormData) go alone, as the browser sends them; everything else is batched.
  const api = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => isNonJsonSerializable(op.input),
        true: httpLink({ url: `${baseUrl}/api/trpc`, fetch: withCookie }),
        false: httpBatchLink({ url: `${baseUrl}/api/trpc`, fetch: withCookie }),
      }),
    ],
  });
  return { api, cookie: () => cookie, fetch: (path, init) => fetch(`${baseUrl}${path}`, { headers: { ...init?.headers, ...(cookie ? { cookie } : {}) } }) };
}

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function connect(baseUrl: string, cookie: string, transports: ("websocket" | "polling")[] = ["websocket"]): Promise<ClientSocket> {
  const socket: ClientSocket = io(baseUrl, { path: "/api/socket", transports, extraHeaders: { cookie }, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(e));
  });
}

/** The tRPC error code of a failed call (e.g. FORBIDDEN), or a failure if it did not fail. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) return (e.data as { code?: string } | undefined)?.code ?? "UNKNOWN";
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** Resolves when `predicate` holds for something pushed on `event`, with everything pushed on it until then. */
export function waitFor<E extends keyof ServerToClientEvents>(
  socket: ClientSocket,
  event: E,
  predicate: (payload: Parameters<ServerToClientEvents[E]>[0]) => boolean,
  timeoutMs = 60_000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(event)}`)), timeoutMs);
    const handler = (payload: Parameters<ServerToClientEvents[E]>[0]) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      (socket.off as (e: string, h: unknown) => void)(event as string, handler);
      resolve(payload);
    };
    (socket.on as (e: string, h: unknown) => void)(event as string, handler);
  });
}
