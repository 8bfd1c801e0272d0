/**
 * npm run bench:upload -- [--count 60000] [--json]
 * A data set import through the real server, as the browser does it: multipart form data over tRPC on loopback,
 * 60,000 MNIST-like 28×28 images as a zip of PNGs (one folder per label) and as a gzipped IDX pair, each uploaded
 * twice (the second is recognised and reused). The uploading member runs in its own process (upload-client.ts), a
 * second member's socket counts the progress pushes, and the server's event-loop lag is sampled from the first
 * upload's start to the last one's end (decoding runs in the import process, parsing the upload in the server).
 * Prints a table, then one JSON line.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { mnistLikeFixtures } from "../../scripts/lib/mnist-fixtures";
import { connect, person } from "../../tests/helpers/clients";
import { startBenchServer } from "./bench-server";
import { TSX_LOADER } from "../trainer/supervisor";

const CLIENT = fileURLToPath(new URL("./upload-client.ts", import.meta.url));

const { values } = parseArgs({ options: { count: { type: "string" }, json: { type: "boolean" } } });
const count = Number(values.count ?? 60_000);

const bench = await startBenchServer("upload");
const { server, dir: tmp } = bench;
try {
  const t0 = performance.now();
  const fixtures = mnistLikeFixtures(count);
  process.stderr.write(
    `fixtures made in ${((performance.now() - t0) / 1000).toFixed(1)} s: zip ${(fixtures.zip.length / 2 ** 20).toFixed(1)} MiB, IDX ${((fixtures.idxImagesGz.length + fixtures.idxLabelsGz.length) / 2 ** 20).toFixed(1)} MiB\n`,
  );
  const ada = person(server.url);
  const vic = person(server.url);
  await ada.api.auth.signUp.mutate({ email: "bench@example.com", name: "Bench", password: "bench password" });
  await vic.api.auth.signUp.mutate({ email: "watch@example.com", name: "Watcher", password: "bench password" });
  const session = await ada.api.sessions.create.mutate({ name: "Upload" });
  const invite = await ada.api.sessions.createInvite.mutate({ sessionId: session.id, role: "viewer" });
  await vic.api.sessions.acceptInvite.mutate({ token: invite.token });
  const socket = await connect(server.url, vic.cookie());
  await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId: session.id });
  const pushes = new Map<string, number>();
  socket.on("dataset:progress", (p) => pushes.set(p.importId, (pushes.get(p.importId) ?? 0) + 1));

  writeFileSync(path.join(tmp, "mnist-folders.zip"), fixtures.zip);
  writeFileSync(path.join(tmp, "train-images-idx3-ubyte.gz"), fixtures.idxImagesGz);
  writeFileSync(path.join(tmp, "train-labels-idx1-ubyte.gz"), fixtures.idxLabelsGz);
  const uploads = [
    { format: "folders (zip of PNGs)", files: [{ name: "mnist-folders.zip", path: path.join(tmp, "mnist-folders.zip") }] },
    {
      format: "idx (gzipped pair)",
      files: [
        { name: "train-images-idx3-ubyte.gz", path: path.join(tmp, "train-images-idx3-ubyte.gz") },
        { name: "train-labels-idx1-ubyte.gz", path: path.join(tmp, "train-labels-idx1-ubyte.gz") },
      ],
    },
  ];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const client = spawn(process.execPath, ["--import", TSX_LOADER, CLIENT, server.url, ada.cookie(), session.id, JSON.stringify(uploads)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  client.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => client.on("exit", resolve));
  lag.disable();
  if (code !== 0) throw new Error(`the upload client exited with code ${code}`);
  await new Promise((r) => setTimeout(r, 200)); // the last pushes
  const measured = JSON.parse(out.trim().split("\n").at(-1)!) as {
    format: string;
    bytes: number;
    first: { importId: string; seconds: number; count: number };
    second: { seconds: number; reused: boolean };
  }[];
  const rows = measured.map((m) => ({
    format: m.format,
    mib: m.bytes / 2 ** 20,
    images: m.first.count,
    seconds: m.first.seconds,
    imagesPerSecond: m.first.count / m.first.seconds,
    secondSeconds: m.second.seconds,
    reused: m.second.reused,
    pushes: pushes.get(m.first.importId) ?? 0,
  }));
  const lagP99Ms = lag.percentile(99) / 1e6;
  const lagMaxMs = lag.max / 1e6;
  socket.close();

  const header = ["format", "MiB", "images", "upload + import s", "images/s", "second upload s", "reused", "progress pushes"];
  const cells = rows.map((r) => [
    r.format,
    r.mib.toFixed(1),
    String(r.images),
    r.seconds.toFixed(2),
    Math.round(r.imagesPerSecond).toString(),
    r.secondSeconds.toFixed(2),
    String(r.reused),
    String(r.pushes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const c of cells) console.log(line(c));
  console.log(`server event-loop lag over all four uploads: p99 ${lagP99Ms.toFixed(1)} ms, max ${lagMaxMs.toFixed(1)} ms`);
  console.log(
    JSON.stringify({
      node: process.version,
      cpus: os.cpus().length,
      loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
      lagP99Ms: Number(lagP99Ms.toFixed(1)),
      lagMaxMs: Number(lagMaxMs.toFixed(1)),
      results: rows.map((r) => ({
        ...r,
        mib: Number(r.mib.toFixed(2)),
        seconds: Number(r.seconds.toFixed(3)),
        imagesPerSecond: Math.round(r.imagesPerSecond),
        secondSeconds: Number(r.secondSeconds.toFixed(3)),
      })),
    }),
  );
} finally {
  await bench.close();
}
