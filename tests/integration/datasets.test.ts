/**
 * Bring your own data through the real server: uploads as multipart form data over tRPC, progress pushed to
 * everyone in the session, errors with file and row, limits, roles, delete only while unused, and the round trip
 * import → a run on it trains (its Config names the data set, the network adapted to 16×16 and 3 labels).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCheckpoint } from "../../lib/gan/checkpoint";
import { DatasetError } from "../../lib/gan/data/dataset";
import { ZipArchive } from "../../lib/gan/data/zip";
import { type DatasetProgressPush, SOCKET_PROTOCOL_VERSION } from "../../lib/protocol/socket";
import { startServer, type RunningServer } from "../../server/app";
import { ImportProcess } from "../../server/datasets/importer";
import { connect, errorCode, person, waitFor, type ClientSocket, type Person } from "../helpers/clients";
import { testEnv } from "../helpers/env";
import { idxPair, labelsOf } from "../helpers/idx-fixtures";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-datasets-"));
let server: RunningServer;
let owner: Person;
let viewer: Person;
let stranger: Person;
let sessionId: string;
let socket: ClientSocket;
let datasetId: string;

/** What the browser does: each file uploaded alone (its bytes as the body), then one import naming the uploads. */
async function importVia(p: Person, fields: { sessionId: string; importId: string; name?: string }, files: { name: string; bytes: Uint8Array }[]) {
  const uploaded = [];
  for (const f of files) uploaded.push({ uploadId: (await p.api.datasets.upload.mutate(new Blob([Buffer.from(f.bytes)]))).uploadId, name: f.name });
  return p.api.datasets.import.mutate({ ...fields, files: uploaded });
}

const objectsIn = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
const storeDir = () => path.join(tmp, "datasets");

beforeAll(async () => {
  server = await startServer(testEnv(tmp, { DATASET_MAX_UPLOAD_MB: "1" }));
  owner = person(server.url);
  viewer = person(server.url);
  stranger = person(server.url);
  await owner.api.auth.signUp.mutate({ email: "ada@example.com", name: "Ada", password: "correct horse" });
  await viewer.api.auth.signUp.mutate({ email: "vic@example.com", name: "Vic", password: "battery staple" });
  await stranger.api.auth.signUp.mutate({ email: "sam@example.com", name: "Sam", password: "other horse" });
  sessionId = (await owner.api.sessions.create.mutate({ name: "Own data" })).id;
  const invite = await owner.api.sessions.createInvite.mutate({ sessionId, role: "viewer" });
  await viewer.api.sessions.acceptInvite.mutate({ token: invite.token });
  socket = await connect(server.url, viewer.cookie());
  await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId });
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("importing a data set into a session", () => {
  it("imports a gzipped IDX pair, pushing progress to every member, and shares it in the session", async () => {
    const pair = idxPair(labelsOf([12, 12, 12]));
    const pushes: DatasetProgressPush[] = [];
    socket.on("dataset:progress", (p) => pushes.push(p));
    const done = waitFor(socket, "dataset:progress", (p) => p.importId === "import-one-0001" && p.phase === "done");
    const result = await importVia(owner, { sessionId, importId: "import-one-0001", name: "squares" }, [
      { name: "train-images-idx3-ubyte.gz", bytes: gzipSync(pair.images) },
      { name: "train-labels-idx1-ubyte", bytes: pair.labels },
    ]);
    expect(result.reused).toBe(false);
    expect(result.dataset).toMatchObject({ name: "squares", count: 36, numLabels: 3, perLabel: [12, 12, 12], imageShape: [16, 16, 1], importedBy: "Ada" });
    datasetId = result.dataset.id;
    expect(datasetId).toMatch(/^ds-[0-9a-f]{20}$/);
    const last = await done;
    expect(last).toMatchObject({ datasetId, userName: "Ada", name: "squares" });
    const phases = pushes.filter((p) => p.importId === "import-one-0001").map((p) => p.phase);
    expect(phases[0]).toBe("receiving");
    expect(phases).toContain("decoding");
    expect(phases.at(-1)).toBe("done");

    const list = await viewer.api.datasets.list.query({ sessionId });
    expect(list.map((d) => d.id)).toEqual(["mnist-bundled", datasetId]);
    const detail = await viewer.api.datasets.get.query({ sessionId, datasetId });
    expect(detail.split.train.map((n, i) => n + detail.split.validation[i]!)).toEqual([12, 12, 12]);
    expect(detail.split.validation).toEqual([2, 2, 2]);
    expect(detail.networks).toEqual([
      expect.objectContaining({ name: "nnc-dcgan-with-label", ok: true, message: expect.stringMatching(/adapts to 16×16×1 images and 3 labels/) }),
      expect.objectContaining({ name: "small-dcgan", ok: true }),
    ]);
    const activity = await owner.api.sessions.activity.query({ sessionId });
    expect(activity.filter((a) => a.kind === "dataset.imported")).toHaveLength(1);
  });

  it("a second import of the same files is reused: no new object, no second activity entry", async () => {
    const before = objectsIn(path.join(storeDir(), "objects"));
    const pair = idxPair(labelsOf([12, 12, 12]));
    const again = await importVia(owner, { sessionId, importId: "import-two-0002" }, [
      { name: "train-images-idx3-ubyte.gz", bytes: gzipSync(pair.images) },
      { name: "train-labels-idx1-ubyte", bytes: pair.labels },
    ]);
    expect(again).toMatchObject({ reused: true, dataset: { id: datasetId, name: "squares" } });
    expect(objectsIn(path.join(storeDir(), "objects"))).toEqual(before);
    const activity = await owner.api.sessions.activity.query({ sessionId });
    expect(activity.filter((a) => a.kind === "dataset.imported")).toHaveLength(1);
  });

  it("rejects a bad upload with the error's code, file and row, and keeps nothing of it", async () => {
    const before = objectsIn(path.join(storeDir(), "objects"));
    const pair = idxPair([0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3]); // label 2 has no image
    const failedPush = waitFor(socket, "dataset:progress", (p) => p.importId === "import-bad-0003" && p.phase === "failed");
    const call = importVia(owner, { sessionId, importId: "import-bad-0003" }, [
      { name: "train-images-idx3-ubyte", bytes: pair.images },
      { name: "train-labels-idx1-ubyte", bytes: pair.labels },
    ]);
    const err = (await call.catch((e: unknown) => e)) as { data: { code: string; dataset: { code: string } }; message: string };
    expect(err.data.code).toBe("BAD_REQUEST");
    expect(err.data.dataset.code).toBe("empty_class");
    expect(err.message).toMatch(/label 2/);
    expect((await failedPush).error).toMatchObject({ code: "empty_class" });
    expect(objectsIn(path.join(storeDir(), "objects"))).toEqual(before);
    expect(objectsIn(storeDir()).filter((f) => f.startsWith(".tmp"))).toEqual([]);
    expect((await owner.api.datasets.list.query({ sessionId })).map((d) => d.id)).toEqual(["mnist-bundled", datasetId]);

    // Not a data set at all: says what it expected.
    const junk = importVia(owner, { sessionId, importId: "import-junk-0004" }, [{ name: "notes.txt", bytes: new TextEncoder().encode("hello") }]);
    expect(await errorCode(junk)).toBe("BAD_REQUEST");
  });

  it("refuses an upload past the size limit, a viewer's import, a stranger's reads, and a form without files", async () => {
    const big = new Uint8Array(1.5 * 1024 * 1024);
    expect(await errorCode(importVia(owner, { sessionId, importId: "import-big-0005" }, [{ name: "big.zip", bytes: big }]))).toBe("PAYLOAD_TOO_LARGE");
    const pair = idxPair(labelsOf([12, 12, 12]));
    const files = [
      { name: "train-images-idx3-ubyte", bytes: pair.images },
      { name: "train-labels-idx1-ubyte", bytes: pair.labels },
    ];
    expect(await errorCode(importVia(viewer, { sessionId, importId: "import-viewer-0006" }, files))).toBe("FORBIDDEN");
    // Someone else's upload cannot be imported; refused imports leave no upload behind.
    const { uploadId } = await viewer.api.datasets.upload.mutate(new Blob([Buffer.from(pair.images)]));
    expect(
      await errorCode(owner.api.datasets.import.mutate({ sessionId, importId: "import-theft-0009", files: [{ uploadId, name: "train-images-idx3-ubyte" }] })),
    ).toBe("NOT_FOUND");
    expect(readdirSync(path.join(tmp, "uploads")).sort()).toEqual([uploadId, `${uploadId}.json`]); // the viewer's file and its record, still theirs
    expect(
      await errorCode(viewer.api.datasets.import.mutate({ sessionId, importId: "import-viewer-0010", files: [{ uploadId, name: "train-images-idx3-ubyte" }] })),
    ).toBe("FORBIDDEN");
    expect(readdirSync(path.join(tmp, "uploads"))).toEqual([]);
    expect(await errorCode(stranger.api.datasets.list.query({ sessionId }))).toBe("FORBIDDEN");
    expect(await errorCode(stranger.api.datasets.get.query({ sessionId, datasetId }))).toBe("FORBIDDEN");
    expect(await errorCode(importVia(owner, { sessionId, importId: "import-none-0007" }, []))).toBe("BAD_REQUEST");
    expect(await errorCode(importVia(owner, { sessionId, importId: "../../x" }, files))).toBe("BAD_REQUEST");
    const res = await stranger.fetch(`/api/sessions/${sessionId}/datasets/${datasetId}/examples.png`);
    expect(res.status).toBe(403);
  });

  it("serves a grid of examples: one row per label", async () => {
    const res = await viewer.fetch(`/api/sessions/${sessionId}/datasets/${datasetId}/examples.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    expect(png.height).toBe(3 * (16 + 2) + 2);
    expect(png.width).toBe(8 * (16 + 2) + 2);
    expect((await viewer.fetch(`/api/sessions/${sessionId}/datasets/ds-00000000000000000000/examples.png`)).status).toBe(404);
  });
});

describe("runs on an imported data set", () => {
  let runId: string;

  it("checks a run's Config against the data set: shared here, a batch fits, the network fits", async () => {
    const issuesOf = async (config: Record<string, unknown>) => {
      const e = (await owner.api.runs.create.mutate({ sessionId, name: "bad", config }).catch((x: unknown) => x)) as {
        data: { code: string; issues: { path: string; message: string }[] };
      };
      expect(e.data.code).toBe("BAD_REQUEST");
      return e.data.issues;
    };
    expect(await issuesOf({ dataset: "ds-0123456789abcdef0123" })).toEqual([
      expect.objectContaining({ path: "dataset", message: expect.stringMatching(/no data set/) }),
    ]);
    expect(await issuesOf({ dataset: datasetId, batchSize: 64 })).toEqual([
      expect.objectContaining({ path: "batchSize", message: expect.stringMatching(/30 training images/) }),
    ]);
    const otherSession = (await stranger.api.sessions.create.mutate({ name: "elsewhere" })).id;
    const e = (await stranger.api.runs.create.mutate({ sessionId: otherSession, name: "x", config: { dataset: datasetId } }).catch((x: unknown) => x)) as {
      data: { issues: { path: string }[] };
    };
    expect(e.data.issues[0]!.path).toBe("dataset");
  });

  it("trains on it: the Config names the data set and the network adapted to 16×16 and 3 labels", async () => {
    const run = await owner.api.runs.create.mutate({
      sessionId,
      name: "on squares",
      config: { dataset: datasetId, network: "nnc-dcgan-with-label", diagnostics: false, batchSize: 10, maxEpoch: 2, sampleColumns: 2 },
    });
    runId = run.id;
    expect(run.config).toMatchObject({ dataset: datasetId });
    const completed = waitFor(socket, "run:status", (s) => s.runId === runId && (s.status === "completed" || s.status === "failed"), 120_000);
    await socket.emitWithAck("join", { v: SOCKET_PROTOCOL_VERSION, sessionId, runId });
    await owner.api.runs.start.mutate({ runId });
    const status = await completed;
    expect(status.reason).toBeNull();
    expect(status.status).toBe("completed");
    expect(status.iteration).toBe(6); // 30 training images at batch 10: 3 iterations per epoch, 2 epochs

    const params = await viewer.api.runs.parameters.query({ runId });
    expect(params).toMatchObject({ numLabels: 3, imageShape: [16, 16, 1], labelNames: null });
    expect(params.layers.generator.at(-2)!.outShape).toEqual([16, 16, 1]);
    const generated = await viewer.api.runs.generate.query({ runId, label: 2, seed: 1 });
    expect(generated).toMatchObject({ width: 16, height: 16 });
    const ckpt = await readCheckpoint(path.join(tmp, "runs", runId, "latest"));
    expect(ckpt.meta.config.dataset).toBe(datasetId);
    expect(ckpt.meta.spec.image).toEqual({ height: 16, width: 16, channels: 1 });
    expect((await viewer.api.datasets.get.query({ sessionId, datasetId })).runCount).toBe(1);
  });

  it("lets members download the run's last checkpoint as a zip of its folder", async () => {
    const finished = await viewer.api.runs.finished.query({ sessionId });
    expect(finished[0]!.downloads).toEqual([expect.objectContaining({ kind: "latest", epoch: 2, iteration: 6 })]);
    const res = await viewer.fetch(`/api/runs/${runId}/checkpoints/latest.zip`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="on-squares-latest-epoch-2.zip"');
    const zip = ZipArchive.open(new Uint8Array(await res.arrayBuffer()), "latest.zip");
    expect(zip.files.map((f) => f.name)).toEqual(["latest/model.json", "latest/optimizer.bin", "latest/weights.bin"]);
    const modelJson = JSON.parse(new TextDecoder().decode(zip.read(zip.get("latest/model.json")!))) as { weightsManifest: unknown[] };
    expect(modelJson.weightsManifest.length).toBeGreaterThan(0);
    expect((await viewer.fetch(`/api/runs/${runId}/checkpoints/best.zip`)).status).toBe(404);
    expect((await stranger.fetch(`/api/runs/${runId}/checkpoints/latest.zip`)).status).toBe(403);
  });

  it("refuses to delete a data set a run uses; deletes an unused one and its stored images", async () => {
    expect(await errorCode(owner.api.datasets.remove.mutate({ sessionId, datasetId }))).toBe("CONFLICT");
    expect(await errorCode(viewer.api.datasets.remove.mutate({ sessionId, datasetId }))).toBe("FORBIDDEN");
    expect(await errorCode(owner.api.datasets.remove.mutate({ sessionId, datasetId: "mnist-bundled" }))).toBe("BAD_REQUEST");

    const pair = idxPair(labelsOf([10, 10]), 12, 12);
    const spare = await importVia(owner, { sessionId, importId: "import-spare-0008", name: "spare" }, [
      { name: "t10k-images-idx3-ubyte", bytes: pair.images },
      { name: "t10k-labels-idx1-ubyte", bytes: pair.labels },
    ]);
    expect(existsSync(path.join(storeDir(), "objects", spare.dataset.id))).toBe(true);
    await owner.api.datasets.remove.mutate({ sessionId, datasetId: spare.dataset.id });
    expect(existsSync(path.join(storeDir(), "objects", spare.dataset.id))).toBe(false);
    expect((await owner.api.datasets.list.query({ sessionId })).map((d) => d.id)).toEqual(["mnist-bundled", datasetId]);
    const kinds = (await owner.api.sessions.activity.query({ sessionId })).map((a) => a.kind);
    expect(kinds).toContain("dataset.deleted");
  });
});

describe("the import process", () => {
  it("an import whose process dies fails with the reason; the next import starts a new process and succeeds", async () => {
    const dir = mkdtempSync(path.join(tmp, "import-process-"));
    const importer = new ImportProcess(path.join(dir, "store"));
    const onDisk = (name: string, bytes: Uint8Array) => {
      writeFileSync(path.join(dir, name), bytes);
      return { name, path: path.join(dir, name) };
    };
    const pair = idxPair(labelsOf([12, 12]));
    const files = [onDisk("train-images-idx3-ubyte", pair.images), onDisk("train-labels-idx1-ubyte", pair.labels)];
    const doomed = importer.importFiles(files, { name: "doomed" });
    importer.close();
    await expect(doomed).rejects.toThrow(/the import process was killed by SIGTERM/);
    const ok = await importer.importFiles(files, { name: "fine" });
    expect(ok.dataset).toMatchObject({ name: "fine", count: 24, perLabel: [12, 12] });
    // A DatasetError in the process comes back as a DatasetError with its code and label.
    const bad = idxPair([0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 2]);
    const err = await importer
      .importFiles([onDisk("t10k-images-idx3-ubyte", bad.images), onDisk("t10k-labels-idx1-ubyte", bad.labels)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err).toMatchObject({ code: "empty_class", label: 1 });
    importer.close();
  });
});
