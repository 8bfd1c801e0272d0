"use client";
/**
 * The live side of a session page: one socket.io connection (the session cookie authenticates it), `join` on
 * every (re)connect, the history merged with the live stream by iteration, and the pushes (status, grids,
 * activity, presence) as React state; parameter changes go to the page's handler (it applies them to its cache).
 * socket.io-client reconnects by itself; each reconnect joins again.
 */
import { io, type Socket } from "socket.io-client";
import { useEffect, useRef, useState } from "react";
import type {
  ActivityPush,
  ClientToServerEvents,
  DatasetProgressPush,
  DiagnosticsPush,
  PresenceUser,
  RunHistory,
  RunStatusPush,
  ServerToClientEvents,
} from "../../lib/protocol/socket";
import type { ParametersPush } from "../../lib/protocol/parameters";
import { SOCKET_PROTOCOL_VERSION, type ServicesPush } from "../../lib/protocol/socket";
import { LossSeries } from "./series";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** "unavailable": the server is up but cannot reach its database, so it cannot check who this is yet (it retries). */
export type Connection = "connecting" | "live" | "reconnecting" | "unauthorized" | "unavailable";
export type Grid = RunHistory["grids"][number];
export type LiveRun = RunHistory["run"];

export interface SessionLive {
  connection: Connection;
  /** The last join's refusal (FORBIDDEN, NOT_FOUND), if any. */
  joinError: { code: string; message: string } | null;
  role: string | null;
  presence: PresenceUser[];
  run: LiveRun | null;
  grids: Grid[];
  /** The run's per-epoch diagnostics (docs/diagnostics.md), history and live pushes merged by epoch. */
  diagnostics: DiagnosticsPush[];
  /** Activity pushed since the page opened (the page reads older entries with sessions.activity). */
  activity: ActivityPush[];
  series: LossSeries;
  /** Increments after every successful join (first and reconnects): refetch what may have been missed. */
  joins: number;
  /** What the connected server last said of its database and Redis; null: nothing said (all well). */
  services: ServicesPush | null;
}

function mergeGrids(a: readonly Grid[], b: readonly Grid[]): Grid[] {
  const byEpoch = new Map<number, Grid>();
  for (const g of [...a, ...b]) byEpoch.set(g.epoch, g);
  return [...byEpoch.values()].sort((x, y) => x.epoch - y.epoch);
}

function mergeDiagnostics(a: readonly DiagnosticsPush[], b: readonly DiagnosticsPush[]): DiagnosticsPush[] {
  const byEpoch = new Map<number, DiagnosticsPush>();
  for (const d of [...a, ...b]) byEpoch.set(d.epoch, d);
  return [...byEpoch.values()].sort((x, y) => x.epoch - y.epoch);
}

export function useSessionLive(
  sessionId: string,
  runId: string | null,
  handlers: {
    onActivity?: (a: ActivityPush) => void;
    onStatus?: (s: RunStatusPush) => void;
    /** A control took effect on a run of the session: apply it (applyControl) to the cached parameter table. */
    onParameters?: (p: ParametersPush) => void;
    onDatasetProgress?: (p: DatasetProgressPush) => void;
  } = {},
): SessionLive {
  const [series] = useState(() => new LossSeries());
  const [connection, setConnection] = useState<Connection>("connecting");
  const [joinError, setJoinError] = useState<SessionLive["joinError"]>(null);
  const [role, setRole] = useState<string | null>(null);
  const [presence, setPresence] = useState<PresenceUser[]>([]);
  const [run, setRun] = useState<LiveRun | null>(null);
  const [grids, setGrids] = useState<Grid[]>([]);
  const [diagnostics, setDiagnostics] = useState<DiagnosticsPush[]>([]);
  const [activity, setActivity] = useState<ActivityPush[]>([]);
  const [joins, setJoins] = useState(0);
  const [services, setServices] = useState<ServicesPush | null>(null);
  const socketRef = useRef<ClientSocket | null>(null);
  const runRef = useRef(runId);
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;

  const join = useRef<() => void>(() => undefined);
  join.current = () => {
    const socket = socketRef.current;
    if (!socket?.connected) return;
    const requested = runRef.current;
    socket.emit("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, ...(requested ? { runId: requested } : {}) }, (reply) => {
      if (runRef.current !== requested) return; // the page moved to another run meanwhile
      if ("error" in reply) {
        setJoinError(reply.error);
        setConnection("live");
        return;
      }
      const { role: r, history, presence: p } = reply.data;
      setJoinError(null);
      setRole(r);
      setPresence(p);
      if (history) {
        series.mergeHistory(history);
        setRun(history.run);
        setGrids((prev) =>
          mergeGrids(
            history.grids,
            prev.filter((g) => g.epoch > (history.grids.at(-1)?.epoch ?? 0)),
          ),
        );
        const stored = history.diagnostics ?? [];
        setDiagnostics((prev) =>
          mergeDiagnostics(
            stored,
            prev.filter((d) => d.runId === requested && d.epoch > (stored.at(-1)?.epoch ?? 0)),
          ),
        );
      }
      setConnection("live");
      setJoins((n) => n + 1);
    });
  };

  // The connection: one per session page.
  useEffect(() => {
    // WebSocket only: no long-polling fallback (the server's HTTP handler also answers /api/socket polling
    // requests, see the report on server/app.ts), and no sticky sessions needed behind a load balancer.
    const socket: ClientSocket = io({ path: "/api/socket", transports: ["websocket"] });
    socketRef.current = socket;
    socket.on("connect", () => {
      // A server tells a new connection only what is down: nothing said means all is well (this may be another process).
      setServices(null);
      join.current();
    });
    socket.on("services", (push) => setServices(push.database.ok && (push.redis?.ok ?? true) ? null : push));
    socket.on("disconnect", (reason) => {
      setConnection("reconnecting");
      // The server closed this connection on purpose: socket.io does not retry that by itself.
      if (reason === "io server disconnect") socket.connect();
    });
    socket.on("connect_error", (err) => {
      if (/UNAUTHORIZED/.test(err.message)) {
        setConnection("unauthorized");
        return;
      }
      if (/^UNAVAILABLE/.test(err.message)) {
        // Up, but without its database: the refusal is not retried by socket.io; retried here until it answers.
        setConnection("unavailable");
        setTimeout(() => socket.connect(), 3_000);
        return;
      }
      setConnection((c) => (c === "connecting" ? "connecting" : "reconnecting"));
      // A refusal from the server's middleware is not retried automatically; a network failure is.
      if (!socket.active) setTimeout(() => socket.connect(), 2_000);
    });
    socket.on("run:losses", (push) => {
      // Live points at or before the history's lastIteration are dropped there (series.ts): no gap, no duplicate.
      if (push.runId === runRef.current) series.append(push.points);
    });
    socket.on("run:status", (push) => {
      // A queue position holds only while the run is queued: a later status without one clears it.
      if (push.runId === runRef.current) setRun((prev) => (prev ? { ...prev, queuePosition: undefined, ...push } : prev));
      handlersRef.current.onStatus?.(push);
    });
    socket.on("run:grid", (push) => {
      if (push.runId === runRef.current) setGrids((prev) => mergeGrids(prev, [{ epoch: push.epoch, iteration: push.iteration, url: push.url }]));
    });
    socket.on("run:diagnostics", (push) => {
      if (push.runId === runRef.current) setDiagnostics((prev) => mergeDiagnostics(prev, [push]));
    });
    socket.on("activity", (entry) => {
      if (entry.sessionId !== sessionId) return;
      setActivity((prev) => (prev.some((a) => a.id === entry.id) ? prev : [...prev, entry]));
      handlersRef.current.onActivity?.(entry);
    });
    socket.on("run:parameters", (push) => handlersRef.current.onParameters?.(push));
    socket.on("dataset:progress", (push) => {
      if (push.sessionId === sessionId) handlersRef.current.onDatasetProgress?.(push);
    });
    socket.on("presence", (push) => {
      if (push.sessionId === sessionId) setPresence(push.users);
    });
    return () => {
      socket.removeAllListeners();
      socket.disconnect();
      socketRef.current = null;
    };
  }, [sessionId, series]);

  // Another run: start from nothing and join for its history.
  useEffect(() => {
    if (runRef.current === runId) return;
    runRef.current = runId;
    series.clear();
    setRun(null);
    setGrids([]);
    setDiagnostics([]);
    join.current();
  }, [runId, series]);

  return { connection, joinError, role, presence, run, grids, diagnostics, activity, series, joins, services };
}
