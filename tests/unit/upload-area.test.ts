/**
 * The upload area's state is its folder: two areas on one folder (two processes of a cluster sharing DATA_DIR) see
 * each other's uploads; a process that restarts removes only what it received; the sweep removes what waited too
 * long, whoever received it; a process alone empties the folder when it starts.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UploadArea, UploadError } from "../../server/datasets/uploads";
import { QuotaError } from "../../server/limits";

const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-uploads-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const body = (text: string) => new Blob([text]).stream();
const opts = { maxBytes: 1024, maxPerUser: 3, keepMs: 60_000 };

describe("the upload area on a folder shared by two processes", () => {
  it("takes, counts and releases another process's uploads; a restart removes only its own", async () => {
    const dir = path.join(tmp, "shared");
    const a = new UploadArea(dir, { ...opts, clusterNode: "a" });
    const b = new UploadArea(dir, { ...opts, clusterNode: "b" });
    const fromA = await a.save("ada", body("images"));
    const fromB = await b.save("ada", body("labels!"));
    expect(await b.take("ada", fromA.uploadId)).toEqual({ file: path.join(dir, fromA.uploadId), bytes: 6 });
    await expect(b.take("bob", fromA.uploadId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(a.take("ada", "../../etc/passwd")).rejects.toBeInstanceOf(UploadError);
    expect(await a.waitingBytes("ada")).toBe(13);
    // Ada's third upload through a fills her three; the fourth is refused through either process.
    await a.save("ada", body("x"));
    await expect(b.save("ada", body("y"))).rejects.toBeInstanceOf(QuotaError);
    // Bob cannot release Ada's; Ada releases through b what a received.
    await a.release("bob", [fromA.uploadId]);
    expect(existsSync(path.join(dir, fromA.uploadId))).toBe(true);
    await b.release("ada", [fromA.uploadId]);
    await expect(a.take("ada", fromA.uploadId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(existsSync(path.join(dir, fromA.uploadId))).toBe(false);

    // a restarts under its id: what it received goes, what b received stays.
    a.close();
    const again = new UploadArea(dir, { ...opts, clusterNode: "a" });
    expect(await again.waitingBytes("ada")).toBe(7);
    expect((await again.take("ada", fromB.uploadId)).bytes).toBe(7);
    again.close();
    b.close();
  });

  it("sweeps what waited too long whoever received it, and leftovers without a record", async () => {
    const dir = path.join(tmp, "sweep");
    const a = new UploadArea(dir, { ...opts, clusterNode: "a" });
    const b = new UploadArea(dir, { ...opts, clusterNode: "b" });
    const old = await b.save("ada", body("old"));
    const orphan = path.join(dir, "00000000-0000-4000-8000-000000000000.gone.part");
    writeFileSync(orphan, "half");
    utimesSync(orphan, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    expect(await a.sweep(Date.now())).toBe(1); // the orphan part only: the upload is fresh
    expect(await a.sweep(Date.now() + 61_000)).toBe(1);
    await expect(b.take("ada", old.uploadId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(readdirSync(dir)).toEqual([]);
    a.close();
    b.close();
  });

  it("alone, a process empties the folder when it starts", async () => {
    const dir = path.join(tmp, "alone");
    const first = new UploadArea(dir, opts);
    await first.save("ada", body("kept?"));
    first.close();
    const second = new UploadArea(dir, opts);
    expect(readdirSync(dir)).toEqual([]);
    second.close();
  });
});
