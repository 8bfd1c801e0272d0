// The Store's contract, against every database it runs on: a real, migrated SQLite file and a real, migrated
// PostgreSQL database (its own, on the run's PostgreSQL server: tests/global-postgres.ts). Every method, real rows.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseKind, openDatabase } from "../../server/db/client";
import type { PrismaClient } from "../../server/db/generated/client";
import { INTERRUPTED_REASON, QUEUED_INTERRUPTED_REASON, Store, StoreError } from "../../server/db/store";
import type { MetricInput, StoreErrorCode, UserRecord } from "../../server/db/store";
import { freshPostgresDatabase } from "../helpers/postgres";

const DATABASES: DatabaseKind[] = ["sqlite", "postgresql"];

let tmp: string;
let dbUrl: string;
let kind: DatabaseKind;
let prisma: PrismaClient;
let store: Store;

async function storeErrorCode(p: Promise<unknown>): Promise<StoreErrorCode | "resolved" | "other"> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return e instanceof StoreError ? e.code : "other";
  }
}

let n = 0;
function newUser(name: string): Promise<UserRecord> {
  n += 1;
  return store.createUser({ email: `${name}.${n}@Example.org`, name, passwordHash: `argon2id$${name}` });
}

function point(iteration: number, epoch = 0): MetricInput {
  return { iteration, epoch, gReal: 1 + iteration / 1000, fake: 0.5, real: 0.25 + iteration, msPerIter: 12.5 };
}

async function newRun(name = "run") {
  const owner = await newUser("owner");
  const session = await store.createSession({ name: `${name} session`, ownerId: owner.id });
  const run = await store.createRun({
    sessionId: session.id,
    createdById: owner.id,
    name,
    config: { dataset: "mnist", epochs: 3, lr: 0.0002, betas: [0.5, 0.999] },
    datasetRef: "mnist",
    outDir: path.join(tmp, "runs", name),
  });
  return { owner, session, run };
}

describe.each(DATABASES)("the Store on %s", (database) => {
  beforeAll(async () => {
    kind = database;
    tmp = mkdtempSync(path.join(tmpdir(), "gan-store-"));
    dbUrl = kind === "sqlite" ? `file:${path.join(tmp, "data", "store.db")}` : await freshPostgresDatabase("store");
    ({ prisma } = await openDatabase(dbUrl));
    store = new Store(prisma);
  });

  afterAll(async () => {
    await prisma.$disconnect();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe("users", () => {
    it("creates users with lower-cased emails, finds them, and refuses a duplicate email as CONFLICT", async () => {
      const u = await store.createUser({ email: "  Ada@Example.ORG ", name: "Ada", passwordHash: "argon2id$x" });
      expect(u).toMatchObject({ email: "ada@example.org", name: "Ada", passwordHash: "argon2id$x" });
      expect(u.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(u.createdAt).toBeInstanceOf(Date);
      expect(await store.findUserByEmail("ADA@example.org")).toEqual(u);
      expect(await store.getUser(u.id)).toEqual(u);
      expect(await store.getUser("nobody")).toBeNull();
      expect(await store.findUserByEmail("nobody@example.org")).toBeNull();

      const dup = store.createUser({ email: "ada@EXAMPLE.org", name: "Ada II", passwordHash: "h" });
      await expect(dup).rejects.toThrow(/ada@example\.org already exists/);
      expect(await storeErrorCode(store.createUser({ email: "ADA@example.org", name: "Ada II", passwordHash: "h" }))).toBe("CONFLICT");
    });
  });

  describe("sessions and members", () => {
    it("createSession makes the owner a member; a missing owner is NOT_FOUND and leaves nothing behind", async () => {
      const owner = await newUser("olga");
      const s = await store.createSession({ name: "Digits", ownerId: owner.id });
      expect(s).toMatchObject({ name: "Digits", ownerId: owner.id, pauseOnCollapse: false });
      expect(await store.getSession(s.id)).toEqual(s);
      expect(await store.getSession("missing")).toBeNull();
      expect(await store.getMembership(owner.id, s.id)).toEqual({ role: "owner" });
      expect(await store.listMembers(s.id)).toEqual([{ userId: owner.id, name: "olga", email: owner.email, role: "owner" }]);

      const before = await prisma.trainingSession.count();
      expect(await storeErrorCode(store.createSession({ name: "orphan", ownerId: "no-such-user" }))).toBe("NOT_FOUND");
      expect(await prisma.trainingSession.count()).toBe(before);
    });

    it("addMember upserts, keeping the higher role; the owner is never downgraded", async () => {
      const owner = await newUser("owen");
      const eve = await newUser("eve");
      const vic = await newUser("vic");
      const s = await store.createSession({ name: "Team", ownerId: owner.id });

      expect(await store.addMember(s.id, eve.id, "viewer")).toEqual({ role: "viewer" });
      expect(await store.addMember(s.id, eve.id, "editor")).toEqual({ role: "editor" });
      expect(await store.addMember(s.id, eve.id, "viewer")).toEqual({ role: "editor" });
      expect(await store.getMembership(eve.id, s.id)).toEqual({ role: "editor" });
      expect(await store.addMember(s.id, owner.id, "viewer")).toEqual({ role: "owner" });
      expect(await store.getMembership(owner.id, s.id)).toEqual({ role: "owner" });
      await store.addMember(s.id, vic.id, "viewer");
      expect(await store.getMembership(vic.id, "other-session")).toBeNull();

      expect(await store.listMembers(s.id)).toEqual([
        { userId: owner.id, name: "owen", email: owner.email, role: "owner" },
        { userId: eve.id, name: "eve", email: eve.email, role: "editor" },
        { userId: vic.id, name: "vic", email: vic.email, role: "viewer" },
      ]);
      expect(await storeErrorCode(store.addMember("no-such-session", eve.id, "viewer"))).toBe("NOT_FOUND");
    });

    it("listSessionsForUser: role, member count, latest run with its latest grid epoch, most recently active first", async () => {
      const me = await newUser("me");
      const other = await newUser("other");
      const quiet = await store.createSession({ name: "quiet", ownerId: me.id });
      const busy = await store.createSession({ name: "busy", ownerId: other.id });
      await store.addMember(busy.id, me.id, "editor");
      await store.createSession({ name: "not mine", ownerId: other.id });

      const first = await store.createRun({ sessionId: busy.id, createdById: other.id, name: "first", config: {}, datasetRef: "mnist", outDir: "/tmp/a" });
      const second = await store.createRun({ sessionId: busy.id, createdById: me.id, name: "second", config: {}, datasetRef: "mnist", outDir: "/tmp/b" });
      await store.updateRun(second.id, { status: "running", epoch: 2, iteration: 1234, totalIterations: 5000, iterationsPerEpoch: 500 });
      await store.saveGrid(second.id, { epoch: 0, iteration: 499, png: new Uint8Array([1]), rows: 10, cols: 10 });
      await store.saveGrid(second.id, { epoch: 1, iteration: 999, png: new Uint8Array([2]), rows: 10, cols: 10 });
      await store.saveGrid(first.id, { epoch: 7, iteration: 9, png: new Uint8Array([3]), rows: 10, cols: 10 });

      let list = await store.listSessionsForUser(me.id);
      expect(list.map((s) => [s.name, s.role, s.memberCount])).toEqual([
        ["busy", "editor", 2],
        ["quiet", "owner", 1],
      ]);
      expect(list[0]!.latestRun).toEqual({
        id: second.id,
        name: "second",
        status: "running",
        epoch: 2,
        iteration: 1234,
        totalIterations: 5000,
        iterationsPerEpoch: 500,
        latestGridEpoch: 1,
      });
      expect(list[1]!.latestRun).toBeNull();
      expect(list[0]!).not.toHaveProperty("png");

      await store.addActivity({ sessionId: quiet.id, userId: me.id, kind: "session.pauseOnCollapse", detail: { from: false, to: true } });
      list = await store.listSessionsForUser(me.id);
      expect(list.map((s) => s.name)).toEqual(["quiet", "busy"]);
      expect(list[0]!.lastActivityAt.getTime()).toBeGreaterThanOrEqual(list[1]!.lastActivityAt.getTime());
      expect(await store.listSessionsForUser("nobody")).toEqual([]);
    });
  });

  describe("invites", () => {
    it("creates, finds while active, revokes (kept for the record), lists; a reused token hash is CONFLICT", async () => {
      const owner = await newUser("ivy");
      const s = await store.createSession({ name: "Invites", ownerId: owner.id });
      const hash = (t: string) => createHash("sha256").update(t).digest("hex");
      const a = await store.createInvite({ sessionId: s.id, role: "editor", createdById: owner.id, tokenHash: hash("a") });
      const b = await store.createInvite({ sessionId: s.id, role: "viewer", createdById: owner.id, tokenHash: hash("b") });
      expect(a).toMatchObject({ sessionId: s.id, role: "editor", createdById: owner.id, tokenHash: hash("a"), revokedAt: null });

      expect(await store.findActiveInvite(hash("a"))).toEqual(a);
      expect(await store.findActiveInvite(hash("nope"))).toBeNull();
      const revoked = await store.revokeInvite(a.id);
      expect(revoked.revokedAt).toBeInstanceOf(Date);
      expect(await store.findActiveInvite(hash("a"))).toBeNull();
      expect((await store.revokeInvite(a.id)).revokedAt).toEqual(revoked.revokedAt);
      expect(await store.findActiveInvite(hash("b"))).toEqual(b);

      expect((await store.listInvites(s.id)).map((i) => [i.id, i.revokedAt !== null])).toEqual([
        [a.id, true],
        [b.id, false],
      ]);
      expect(await storeErrorCode(store.createInvite({ sessionId: s.id, role: "viewer", createdById: owner.id, tokenHash: hash("b") }))).toBe("CONFLICT");
      expect(await storeErrorCode(store.revokeInvite("no-such-invite"))).toBe("NOT_FOUND");
    });
  });

  describe("runs", () => {
    it("creates idle runs with their config parsed back, lists, updates, and marks training runs interrupted", async () => {
      const { owner, session, run } = await newRun("r1");
      expect(run).toMatchObject({
        sessionId: session.id,
        createdById: owner.id,
        name: "r1",
        status: "idle",
        config: { dataset: "mnist", epochs: 3, lr: 0.0002, betas: [0.5, 0.999] },
        datasetRef: "mnist",
        backend: null,
        iteration: 0,
        epoch: 0,
        iterationsPerEpoch: null,
        totalIterations: null,
        failureReason: null,
      });
      expect(await store.getRun(run.id)).toEqual(run);
      expect(await store.getRun("missing")).toBeNull();

      const withId = await store.createRun({
        id: "fixed-run-id",
        sessionId: session.id,
        createdById: owner.id,
        name: "r2",
        config: [1, 2],
        datasetRef: "d",
        outDir: "/o",
      });
      expect(withId.id).toBe("fixed-run-id");
      expect((await store.listRuns(session.id)).map((r) => r.name)).toEqual(["r1", "r2"]);

      const updated = await store.updateRun(run.id, {
        status: "running",
        backend: "cpu",
        iteration: 10,
        epoch: 1,
        iterationsPerEpoch: 100,
        totalIterations: 300,
      });
      expect(updated).toMatchObject({ status: "running", backend: "cpu", iteration: 10, epoch: 1, iterationsPerEpoch: 100, totalIterations: 300 });
      expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(run.updatedAt.getTime());
      expect((await store.updateRun(run.id, { failureReason: "x" })).failureReason).toBe("x");
      expect((await store.updateRun(run.id, { failureReason: null })).failureReason).toBeNull();
      expect(await storeErrorCode(store.updateRun("missing", { status: "failed" }))).toBe("NOT_FOUND");

      const paused = (await newRun("paused")).run;
      await store.updateRun(paused.id, { status: "paused" });
      const done = (await newRun("done")).run;
      await store.updateRun(done.id, { status: "completed" });
      // Other test files share no database, but this one's earlier tests left a running run ("second").
      const stillTraining = await prisma.run.count({ where: { status: { in: ["running", "paused"] } } });
      expect(await store.markInterrupted()).toBe(stillTraining);
      expect(await store.getRun(run.id)).toMatchObject({ status: "interrupted", failureReason: INTERRUPTED_REASON });
      expect(await store.getRun(paused.id)).toMatchObject({ status: "interrupted", failureReason: INTERRUPTED_REASON });
      expect(await store.getRun(done.id)).toMatchObject({ status: "completed", failureReason: null });
      expect(await store.markInterrupted()).toBe(0);
    });

    it("counts owned sessions and runs (the quotas), and puts runs left queued back where they can be started", async () => {
      const { owner, session, run: fresh } = await newRun("queued-fresh");
      const other = await store.createSession({ name: "second", ownerId: owner.id });
      expect(await store.countOwnedSessions(owner.id)).toBe(2);
      const resumable = await store.createRun({
        sessionId: other.id,
        createdById: owner.id,
        name: "queued-resumable",
        config: {},
        datasetRef: "d",
        outDir: "/o",
      });
      expect([
        await store.countRuns({ sessionId: session.id }),
        await store.countRuns({ sessionId: other.id }),
        await store.countRuns({ createdById: owner.id }),
      ]).toEqual([1, 1, 2]);
      await store.saveCheckpoint(resumable.id, { kind: "latest", epoch: 1, iteration: 6, dir: "/o/latest", bytes: 10 });
      await store.updateRun(fresh.id, { status: "queued" });
      await store.updateRun(resumable.id, { status: "queued" });
      expect(await store.resetQueued()).toEqual({ idle: 1, interrupted: 1 });
      expect(await store.getRun(fresh.id)).toMatchObject({ status: "idle", failureReason: null });
      expect(await store.getRun(resumable.id)).toMatchObject({ status: "interrupted", failureReason: QUEUED_INTERRUPTED_REASON });
      expect(await store.resetQueued()).toEqual({ idle: 0, interrupted: 0 });
    });
  });

  describe("metrics", () => {
    it("appends in one transaction, ignores points already stored, and reads back in iteration order", async () => {
      const { run } = await newRun("metrics");
      expect(await store.lastIteration(run.id)).toBeNull();
      expect(await store.appendMetrics(run.id, [])).toBe(0);
      expect(await store.appendMetrics(run.id, [point(2), point(0), point(1)])).toBe(3);
      expect(await store.appendMetrics(run.id, [point(1), point(2), point(3), point(3)])).toBe(1);
      const big = Array.from({ length: 1200 }, (_, i) => point(i + 4, 1));
      expect(await store.appendMetrics(run.id, big)).toBe(1200);
      expect(await store.lastIteration(run.id)).toBe(1203);

      const all = await store.metrics(run.id);
      expect(all).toHaveLength(1204);
      expect(all.map((p) => p.iteration)).toEqual(Array.from({ length: 1204 }, (_, i) => i));
      expect(all[3]).toEqual(point(3));
      expect(all[5]).toEqual(point(5, 1));
      expect((await store.metrics(run.id, { afterIteration: 1200 })).map((p) => p.iteration)).toEqual([1201, 1202, 1203]);
      expect((await store.metrics(run.id, { afterIteration: 9, limit: 2 })).map((p) => p.iteration)).toEqual([10, 11]);
      expect((await store.metrics(run.id, { limit: 1 })).map((p) => p.iteration)).toEqual([0]);
    });

    it("is all or nothing: a batch failing in its last chunk inserts nothing; bad points are refused before writing", async () => {
      const { run } = await newRun("atomic");
      await store.appendMetrics(run.id, [point(0)]);
      // Make the database itself reject one row late in a 1500-point batch (three INSERT statements).
      if (kind === "sqlite") {
        await prisma.$executeRawUnsafe(
          `CREATE TRIGGER "reject_1400" BEFORE INSERT ON "MetricPoint" WHEN NEW."iteration" = 1400 BEGIN SELECT RAISE(ABORT, 'rejected by test trigger'); END`,
        );
      } else {
        await prisma.$executeRawUnsafe(
          `CREATE FUNCTION reject_1400() RETURNS trigger AS $$ BEGIN IF NEW."iteration" = 1400 THEN RAISE EXCEPTION 'rejected by test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
        );
        await prisma.$executeRawUnsafe(`CREATE TRIGGER "reject_1400" BEFORE INSERT ON "MetricPoint" FOR EACH ROW EXECUTE FUNCTION reject_1400()`);
      }
      try {
        const batch = Array.from({ length: 1500 }, (_, i) => point(i + 1));
        await expect(store.appendMetrics(run.id, batch)).rejects.toThrow(/rejected by test trigger/);
      } finally {
        await prisma.$executeRawUnsafe(kind === "sqlite" ? `DROP TRIGGER "reject_1400"` : `DROP TRIGGER "reject_1400" ON "MetricPoint"`);
      }
      expect(await prisma.metricPoint.count({ where: { runId: run.id } })).toBe(1);

      await expect(store.appendMetrics(run.id, [point(1), { ...point(2), gReal: Number.NaN }])).rejects.toThrow(RangeError);
      await expect(store.appendMetrics(run.id, [{ ...point(3), iteration: 3.5 }])).rejects.toThrow(/iteration must be a non-negative integer/);
      expect(await prisma.metricPoint.count({ where: { runId: run.id } })).toBe(1);

      expect(await storeErrorCode(store.appendMetrics("no-such-run", [point(0)]))).toBe("NOT_FOUND");
      expect(await prisma.metricPoint.count({ where: { runId: "no-such-run" } })).toBe(0);
    });
  });

  describe("grids and checkpoints", () => {
    it("saves grids with their SHA-256, replaces the same epoch, lists without bytes, reads bytes back", async () => {
      const { run } = await newRun("grids");
      const png1 = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
      const png2 = Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9]);
      const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

      expect(await store.saveGrid(run.id, { epoch: 1, iteration: 199, png: png1, rows: 10, cols: 8 })).toEqual({
        epoch: 1,
        iteration: 199,
        sha256: sha(png1),
        rows: 10,
        cols: 8,
      });
      await store.saveGrid(run.id, { epoch: 0, iteration: 99, png: png1, rows: 10, cols: 8 });
      await store.saveGrid(run.id, { epoch: 1, iteration: 200, png: png2, rows: 10, cols: 10 });

      expect(await store.listGrids(run.id)).toEqual([
        { epoch: 0, iteration: 99, sha256: sha(png1), rows: 10, cols: 8 },
        { epoch: 1, iteration: 200, sha256: sha(png2), rows: 10, cols: 10 },
      ]);
      const got = await store.getGrid(run.id, 1);
      expect(got).toMatchObject({ epoch: 1, iteration: 200, sha256: sha(png2), rows: 10, cols: 10 });
      expect(got!.png).toBeInstanceOf(Uint8Array);
      expect(Array.from(got!.png)).toEqual(Array.from(png2));
      expect(sha(got!.png)).toBe(got!.sha256);
      expect(await store.getGrid(run.id, 5)).toBeNull();
      expect(await storeErrorCode(store.saveGrid("no-such-run", { epoch: 0, iteration: 0, png: png1, rows: 1, cols: 1 }))).toBe("NOT_FOUND");
    });

    it("saves checkpoints; latestCheckpoint is the highest iteration of the kind", async () => {
      const { run } = await newRun("ckpt");
      expect(await store.latestCheckpoint(run.id)).toBeNull();
      const c1 = await store.saveCheckpoint(run.id, { kind: "latest", epoch: 0.5, iteration: 50, dir: "/c/50", bytes: 1000 });
      const c3 = await store.saveCheckpoint(run.id, { kind: "latest", epoch: 1.5, iteration: 150, dir: "/c/150", bytes: 1003 });
      const c2 = await store.saveCheckpoint(run.id, { kind: "latest", epoch: 1, iteration: 100, dir: "/c/100", bytes: 1002 });
      const e1 = await store.saveCheckpoint(run.id, { kind: "epoch", epoch: 1, iteration: 100, dir: "/c/e1", bytes: 900 });
      expect(c1).toMatchObject({ runId: run.id, kind: "latest", epoch: 0.5, iteration: 50, dir: "/c/50", bytes: 1000 });
      expect(await store.latestCheckpoint(run.id)).toEqual(c3);
      expect(await store.latestCheckpoint(run.id, "epoch")).toEqual(e1);
      expect(await store.latestCheckpoint(run.id, "best")).toBeNull();
      expect((await store.listCheckpoints(run.id)).map((c) => c.id)).toEqual([c1.id, c2.id, e1.id, c3.id]);
      expect(await storeErrorCode(store.saveCheckpoint("no-such-run", { kind: "latest", epoch: 0, iteration: 0, dir: "/x", bytes: 0 }))).toBe("NOT_FOUND");
    });
  });

  describe("activity", () => {
    it("records entries with parsed detail and user names, lists the newest `limit` in chronological order", async () => {
      const { owner, session, run } = await newRun("activity");
      const a = await store.addActivity({ sessionId: session.id, userId: owner.id, kind: "run.created", detail: { name: "activity", config: {} } });
      expect(a).toMatchObject({
        sessionId: session.id,
        runId: null,
        userId: owner.id,
        userName: "owner",
        kind: "run.created",
        detail: { name: "activity" },
        iteration: null,
      });
      const kinds: string[] = ["run.created"];
      for (let i = 0; i < 6; i++) {
        const kind = i % 3 === 2 ? "run.pause" : "control.lrMultiplier";
        kinds.push(kind);
        await store.addActivity({
          sessionId: session.id,
          runId: run.id,
          userId: i % 2 ? owner.id : null,
          ...(kind === "run.pause"
            ? ({ kind: "run.pause", detail: {} } as const)
            : ({ kind: "control.lrMultiplier", detail: { scope: "Affine", param: "W", from: i, to: i + 1 } } as const)),
          iteration: i * 10,
        });
      }
      const all = await store.listActivity(session.id);
      expect(all.map((e) => e.kind)).toEqual(kinds);
      expect(all.map((e) => e.userName)).toEqual(["owner", null, "owner", null, "owner", null, "owner"]);
      expect(all[2]).toMatchObject({ runId: run.id, detail: { scope: "Affine", param: "W", from: 1, to: 2 }, iteration: 10 });
      for (let i = 1; i < all.length; i++) expect(all[i]!.createdAt.getTime()).toBeGreaterThan(all[i - 1]!.createdAt.getTime());

      expect((await store.listActivity(session.id, { limit: 3 })).map((e) => e.kind)).toEqual(kinds.slice(-3));
      expect((await store.listActivity(session.id, { runId: run.id })).map((e) => e.kind)).toEqual(kinds.slice(1));
      expect((await store.listRunActivity(run.id, ["control.lrMultiplier"])).map((e) => e.iteration)).toEqual([0, 10, 30, 40]);
      expect(await storeErrorCode(store.addActivity({ sessionId: "no-such-session", kind: "run.pause", detail: {} }))).toBe("NOT_FOUND");
    });

    it("reads a row whose detail does not fit its kind's schema (older data) as an unknown entry, without failing", async () => {
      const { session } = await newRun("old activity");
      await prisma.activityEntry.create({
        data: { id: "old-entry", sessionId: session.id, kind: "control.lrMultiplier", detail: '{"lr":{"old":1,"new":2}}', createdAt: new Date() },
      });
      await prisma.activityEntry.create({ data: { id: "gone-kind", sessionId: session.id, kind: "note", detail: "{}", createdAt: new Date(Date.now() + 1) } });
      const entries = await store.listActivity(session.id);
      expect(entries.map((e) => [e.kind, e.detail])).toEqual([
        ["unknown", { kind: "control.lrMultiplier", json: '{"lr":{"old":1,"new":2}}' }],
        ["unknown", { kind: "note", json: "{}" }],
      ]);
    });
  });

  describe("data sets shared in sessions", () => {
    const id = "ds-0123456789abcdef0123";

    it("shares a data set once per session, lists it newest first with its importer and run count", async () => {
      const owner = await newUser("importer");
      const session = await store.createSession({ name: "data", ownerId: owner.id });
      const first = await store.addSessionDataset({ sessionId: session.id, datasetId: id, name: "letters", importedById: owner.id });
      expect(first.created).toBe(true);
      expect(first.record).toMatchObject({ datasetId: id, name: "letters", importedByName: "importer", runCount: 0 });
      const again = await store.addSessionDataset({ sessionId: session.id, datasetId: id, name: "renamed", importedById: owner.id });
      expect(again).toMatchObject({ created: false, record: { name: "letters" } });
      await store.addSessionDataset({ sessionId: session.id, datasetId: "ds-ffffffffffffffffffff", name: "second", importedById: owner.id });
      expect((await store.listSessionDatasets(session.id)).map((d) => d.name)).toEqual(["second", "letters"]);
      expect(await storeErrorCode(store.addSessionDataset({ sessionId: "no-such-session", datasetId: id, name: "x", importedById: owner.id }))).toBe(
        "NOT_FOUND",
      );
    });

    it("refuses to remove a data set a run uses, removes it otherwise and says whether anything else refers to it", async () => {
      const { owner, session } = await newRun("uses-data");
      await store.addSessionDataset({ sessionId: session.id, datasetId: id, name: "used", importedById: owner.id });
      await store.createRun({
        sessionId: session.id,
        createdById: owner.id,
        name: "on it",
        config: { dataset: id },
        datasetRef: id,
        outDir: path.join(tmp, "runs", "on-it"),
      });
      expect((await store.getSessionDataset(session.id, id))!.runCount).toBe(1);
      expect(await storeErrorCode(store.removeSessionDataset(session.id, id))).toBe("CONFLICT");
      expect(await store.getSessionDataset(session.id, id)).not.toBeNull();

      const other = await store.createSession({ name: "other", ownerId: owner.id });
      await store.addSessionDataset({ sessionId: other.id, datasetId: "ds-aaaaaaaaaaaaaaaaaaaa", name: "lonely", importedById: owner.id });
      expect(await store.removeSessionDataset(other.id, "ds-aaaaaaaaaaaaaaaaaaaa")).toEqual({ stillReferenced: false });
      await store.addSessionDataset({ sessionId: other.id, datasetId: id, name: "shared too", importedById: owner.id });
      // The first session's run still uses the data.
      expect(await store.removeSessionDataset(other.id, id)).toEqual({ stillReferenced: true });
      expect(await storeErrorCode(store.removeSessionDataset(other.id, id))).toBe("NOT_FOUND");
    });
  });

  describe("deleting and reopening", () => {
    it("deleting a session cascades to its members, invites, runs and all their rows; users stay", async () => {
      const { owner, session, run } = await newRun("cascade");
      const guest = await newUser("guest");
      await store.addMember(session.id, guest.id, "viewer");
      await store.createInvite({ sessionId: session.id, role: "viewer", createdById: owner.id, tokenHash: "cascade-token" });
      await store.appendMetrics(run.id, [point(0), point(1)]);
      await store.saveGrid(run.id, { epoch: 0, iteration: 1, png: new Uint8Array([1]), rows: 1, cols: 1 });
      await store.saveCheckpoint(run.id, { kind: "latest", epoch: 0, iteration: 1, dir: "/c", bytes: 1 });
      await store.addActivity({ sessionId: session.id, runId: run.id, userId: guest.id, kind: "run.pause", detail: {} });
      await store.addActivity({ sessionId: session.id, kind: "session.pauseOnCollapse", detail: { from: true, to: false } });

      await store.deleteSession(session.id);
      expect(await store.getSession(session.id)).toBeNull();
      expect(await prisma.membership.count({ where: { sessionId: session.id } })).toBe(0);
      expect(await prisma.invite.count({ where: { sessionId: session.id } })).toBe(0);
      expect(await store.getRun(run.id)).toBeNull();
      expect(await prisma.metricPoint.count({ where: { runId: run.id } })).toBe(0);
      expect(await prisma.sampleGrid.count({ where: { runId: run.id } })).toBe(0);
      expect(await prisma.checkpoint.count({ where: { runId: run.id } })).toBe(0);
      expect(await prisma.activityEntry.count({ where: { sessionId: session.id } })).toBe(0);
      expect(await store.getUser(owner.id)).not.toBeNull();
      expect(await store.getUser(guest.id)).not.toBeNull();
      expect(await storeErrorCode(store.deleteSession(session.id))).toBe("NOT_FOUND");
    });

    it("a user who owns a session cannot be deleted (RESTRICT); a deleted actor leaves activity with no user", async () => {
      const { owner, session } = await newRun("restrict");
      await expect(prisma.user.delete({ where: { id: owner.id } })).rejects.toThrow();
      const passer = await newUser("passer");
      await store.addActivity({ sessionId: session.id, userId: passer.id, kind: "member.joined", detail: { role: "viewer" } });
      await prisma.user.delete({ where: { id: passer.id } });
      const [entry] = await store.listActivity(session.id);
      expect(entry).toMatchObject({ kind: "member.joined", userId: null, userName: null });
    });

    it("data survive closing and reopening the database", async () => {
      const { owner, session, run } = await newRun("durable");
      await store.appendMetrics(run.id, [point(0), point(1), point(2)]);
      await store.saveGrid(run.id, { epoch: 0, iteration: 2, png: new Uint8Array([7, 7]), rows: 1, cols: 2 });
      await store.addActivity({ sessionId: session.id, runId: run.id, userId: owner.id, kind: "run.error", detail: { message: "k" } });
      await prisma.$disconnect();

      const reopened = await openDatabase(dbUrl);
      expect(reopened.applied).toEqual([]);
      prisma = reopened.prisma;
      store = new Store(prisma);
      expect(await store.getUser(owner.id)).toEqual(owner);
      expect(await store.getRun(run.id)).toEqual(run);
      expect(await store.getMembership(owner.id, session.id)).toEqual({ role: "owner" });
      expect(await store.metrics(run.id)).toEqual([point(0), point(1), point(2)]);
      expect(Array.from((await store.getGrid(run.id, 0))!.png)).toEqual([7, 7]);
      expect((await store.listActivity(session.id))[0]).toMatchObject({ kind: "run.error", userName: "owner", detail: { message: "k" } });
    });
  });
});
