/**
 * socket.io: one room per session. A connection is authenticated by the session cookie of its handshake; `join`
 * checks membership, subscribes first and reads the history second (so nothing falls between), then reports who
 * is here. A join of another protocol version (or none: a page older than the server) is refused with
 * UNSUPPORTED_PROTOCOL; a malformed message gets an error reply and changes nothing.
 */
import type { Server, Socket } from "socket.io";
import { JoinSchema, SOCKET_PROTOCOL_VERSION, UNSUPPORTED_PROTOCOL, type ClientToServerEvents, type ServerToClientEvents } from "../../lib/protocol/socket";
import type { CookieSealer } from "../auth/auth";
import type { Store } from "../db/store";
import type { DatasetBroadcaster } from "../datasets/service";
import type { Broadcaster, RunService } from "../runs/service";
import type { PresenceBook } from "./presence";

export type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type Sock = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, { userId: string; name: string; sessions: Map<string, string> }>;

export const roomOf = (sessionId: string) => `session:${sessionId}`;

export function socketBroadcaster(io: IO): Broadcaster & DatasetBroadcaster {
  return {
    losses: (sessionId, runId, points) => io.to(roomOf(sessionId)).emit("run:losses", { runId, points }),
    status: (sessionId, push) => io.to(roomOf(sessionId)).emit("run:status", push),
    grid: (sessionId, push) => io.to(roomOf(sessionId)).emit("run:grid", push),
    diagnostics: (sessionId, push) => io.to(roomOf(sessionId)).emit("run:diagnostics", push),
    activity: (sessionId, entry) => io.to(roomOf(sessionId)).emit("activity", entry),
    parameters: (sessionId, push) => io.to(roomOf(sessionId)).emit("run:parameters", push),
    progress: (sessionId, push) => io.to(roomOf(sessionId)).emit("dataset:progress", push),
  };
}

/** What the API tells the realtime layer. */
export interface Realtime {
  /**
   * A member's role changed (role) or they were removed (null): their open connections follow at once, so a removed
   * member stops receiving the session's pushes and presence shows the new role.
   */
  membershipChanged(sessionId: string, userId: string, role: string | null): Promise<void>;
  /** Presence changed outside a connection's own events (a cluster process that died): tell the session. */
  presenceChanged(sessionId: string): Promise<void>;
}

export function attachRealtime(io: IO, deps: { store: Store; runs: RunService; sealer: CookieSealer; presence: PresenceBook }): Realtime {
  /** Tells the session who is watching; resolves with the list (a join's reply carries the same). */
  const broadcastPresenceOf = async (sessionId: string) => {
    const users = await deps.presence.users(sessionId);
    io.to(roomOf(sessionId)).emit("presence", { sessionId, users });
    return users;
  };
  io.use(async (socket, next) => {
    let record: Awaited<ReturnType<Store["getUser"]>>;
    try {
      const user = await deps.sealer.read(socket.handshake.headers.cookie);
      record = user ? await deps.store.getUser(user.userId) : null;
    } catch (e) {
      // The database is lost: who this is cannot be checked. Refused with a reason the page shows; it retries.
      console.error("a connection could not be checked (the database did not answer):", e instanceof Error ? e.message : e);
      return next(new Error("UNAVAILABLE: the server cannot reach its database; retrying"));
    }
    if (!record) return next(new Error("UNAUTHORIZED: sign in first"));
    Object.assign(socket.data, { userId: record.id, name: record.name, sessions: new Map<string, string>() });
    next();
  });

  io.on("connection", (raw) => {
    const socket = raw as unknown as Sock;
    const broadcastPresence = broadcastPresenceOf;

    socket.on("join", async (request, ack) => {
      const reply = typeof ack === "function" ? ack : () => undefined;
      try {
        // The version first: a page of another protocol may send what this server cannot read at all.
        if (typeof request === "object" && request !== null && (request as { v?: unknown }).v !== SOCKET_PROTOCOL_VERSION) {
          return reply({ error: { ...UNSUPPORTED_PROTOCOL } });
        }
        const parsed = JoinSchema.safeParse(request);
        if (!parsed.success) {
          return reply({
            error: { code: "BAD_REQUEST", message: `join: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ")}` },
          });
        }
        const { sessionId, runId } = parsed.data;
        const membership = await deps.store.getMembership(socket.data.userId, sessionId);
        if (!membership) return reply({ error: { code: "FORBIDDEN", message: "you are not a member of this session" } });
        if (runId) {
          const run = await deps.store.getRun(runId);
          if (!run || run.sessionId !== sessionId) return reply({ error: { code: "NOT_FOUND", message: `run ${runId} is not in this session` } });
        }
        // Subscribe before reading the history: a point written after the read arrives live (and one written
        // between the two arrives both ways; the client drops it by its iteration).
        await socket.join(roomOf(sessionId));
        socket.data.sessions.set(sessionId, membership.role);
        const history = runId ? await deps.runs.history(runId) : null;
        // The session is told only when its list of users changed (someone's first tab): a join that only adds a
        // connection of someone already present tells nobody, else N joins would make N² pushes.
        const first = await deps.presence.join(sessionId, socket.id, { userId: socket.data.userId, name: socket.data.name, role: membership.role });
        const presence = first ? await broadcastPresence(sessionId) : await deps.presence.users(sessionId);
        reply({ data: { role: membership.role, history, presence } });
      } catch (e) {
        reply({ error: { code: "INTERNAL", message: (e as Error).message } });
      }
    });

    socket.on("leave", (request) => {
      const sessionId = typeof request?.sessionId === "string" ? request.sessionId : null;
      if (!sessionId || !socket.data.sessions.has(sessionId)) return;
      socket.data.sessions.delete(sessionId);
      void socket.leave(roomOf(sessionId));
      // Presence lives in Redis in a cluster: a lost Redis must not become an unhandled rejection.
      void deps.presence
        .leave(sessionId, socket.id, socket.data.userId)
        .then((last) => (last ? broadcastPresence(sessionId) : undefined))
        .catch(() => undefined);
    });

    socket.on("disconnect", () => {
      for (const sessionId of socket.data.sessions.keys()) {
        void deps.presence
          .leave(sessionId, socket.id, socket.data.userId)
          .then((last) => (last ? broadcastPresence(sessionId) : undefined))
          .catch(() => undefined);
      }
    });
  });

  return {
    presenceChanged: async (sessionId) => {
      await broadcastPresenceOf(sessionId);
    },
    async membershipChanged(sessionId, userId, role) {
      const sockets = (await io.in(roomOf(sessionId)).fetchSockets()).filter((x) => (x.data as { userId?: string }).userId === userId);
      for (const remote of sockets) {
        const local = io.sockets.sockets.get(remote.id) as unknown as Sock | undefined;
        if (role === null) {
          local?.data.sessions.delete(sessionId);
          remote.leave(roomOf(sessionId));
        } else {
          local?.data.sessions.set(sessionId, role);
        }
      }
      // Every connection of theirs, whichever process holds it (a connection's presence field is its process's).
      if (role === null) await deps.presence.forgetUser(sessionId, userId);
      else await deps.presence.setRole(sessionId, userId, role);
      await broadcastPresenceOf(sessionId);
    },
  };
}
