/**
 * The viewers of `npm run bench:fanout`, in their own process so their work does not load the server's event
 * loop: N socket.io clients join one session and record, per loss point, when it arrived. On "report" they
 * send back counts and latencies (arrival − the server's receipt from the trainer).
 * Args: URLS (comma-separated: the cluster's processes; viewer i connects to URLS[(OFFSET + i) % count]), COOKIE,
 * SESSION, RUN, VIEWERS, OFFSET.
 */
import { io } from "socket.io-client";
import { type ClientToServerEvents, type ServerToClientEvents, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";

const [urlsArg, cookie, sessionId, runId, viewersArg, offsetArg] = process.argv.slice(2);
const urls = urlsArg!.split(",");
const viewers = Number(viewersArg);
const offset = Number(offsetArg ?? 0);
const pushes: number[] = new Array(viewers).fill(0);
const points: number[] = new Array(viewers).fill(0);
const latencies: number[] = [];
const seen: Set<number>[] = Array.from({ length: viewers }, () => new Set());

const sockets = Array.from({ length: viewers }, (_, i) => {
  const s = io(urls[(offset + i) % urls.length]!, {
    path: "/api/socket",
    transports: ["websocket"],
    extraHeaders: { cookie: cookie! },
    forceNew: true,
    reconnection: false,
  }) as unknown as import("socket.io-client").Socket<ServerToClientEvents, ClientToServerEvents>;
  s.on("run:losses", (p) => {
    const now = Date.now();
    pushes[i]!++;
    for (const pt of p.points) {
      points[i]!++;
      seen[i]!.add(pt.iteration);
      if (pt.at) latencies.push(now - pt.at);
    }
  });
  return s;
});

await Promise.all(
  sockets.map(
    (s) =>
      new Promise<void>((resolve, reject) => {
        s.once("connect", () => resolve());
        s.once("connect_error", reject);
      }),
  ),
);
const joins = await Promise.all(sockets.map((s) => s.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: sessionId!, runId: runId! })));
const failed = joins.filter((j) => "error" in j).length;
process.send!({ type: "joined", failed });

process.on("message", (m: { type: string }) => {
  if (m.type !== "report") return;
  for (const s of sockets) s.close();
  // Exit once the report is handed to the channel: with thousands of viewers it is megabytes, and a fixed delay
  // before exiting could cut it off (the benchmark then waited for it forever).
  process.send!({ type: "report", pushes, points, latencies, distinctIterations: seen.map((s) => s.size) }, () => process.exit(0));
});
