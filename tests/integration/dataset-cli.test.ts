/**
 * npm run dataset as a user runs it (tsx, a child process) on a temp store: import --json, a rejected import's
 * error JSON with file and row, list --json, and the store taken from GAN_DATASETS_DIR.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../../lib/gan/image.js";
import { makeZip } from "../helpers/zip-writer.js";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-dataset-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const store = path.join(tmp, "store");

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "lib/gan/cli/dataset.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const image = (v: number) => encodePng({ width: 6, height: 6, channels: 1, data: new Uint8Array(36).fill(v) });

describe("npm run dataset", () => {
  const zip = path.join(tmp, "shapes.zip");
  writeFileSync(zip, makeZip(Array.from({ length: 24 }, (_, i) => ({ name: `shapes/${i % 2 === 0 ? "circle" : "square"}/${i}.png`, data: image(i * 10) }))));

  it("import --json prints one line with the id, counts and shape; again it is reused", () => {
    const r = run(["import", zip, "--store", store, "--json", "--name", "Shapes"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!);
    expect(out).toEqual({ id: expect.stringMatching(/^ds-[0-9a-f]{20}$/), count: 24, perLabel: [12, 12], imageShape: [6, 6, 1], name: "Shapes", reused: false });
    const again = JSON.parse(run(["import", zip, "--store", store, "--json"]).stdout);
    expect(again).toMatchObject({ id: out.id, reused: true });
  });

  it("a rejected import exits 1 and prints the error with its file and row", () => {
    const dir = path.join(tmp, "csv");
    mkdirSync(path.join(dir, "img"), { recursive: true });
    const rows = ["x:image,y:label"];
    for (let i = 0; i < 24; i++) {
      writeFileSync(path.join(dir, "img", `${i}.png`), image(i));
      rows.push(`img/${i}.png,${i === 7 ? "seven" : i % 2}`);
    }
    writeFileSync(path.join(dir, "train.csv"), `${rows.join("\n")}\n`);
    const r = run(["import", path.join(dir, "train.csv"), "--store", store, "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout.trim());
    expect(out.error).toMatchObject({ code: "label_not_integer", file: "train.csv", row: 9 });
    expect(out.error.message).toMatch(/label "seven" is not an integer/);
    const human = run(["import", path.join(dir, "train.csv"), "--store", store]);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/DatasetError: train\.csv, row 9: label "seven" is not an integer/);
  });

  it("list --json prints the store as one JSON array; GAN_DATASETS_DIR names the store", () => {
    const r = run(["list", "--json"], { GAN_DATASETS_DIR: store });
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout.trim());
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: "Shapes", count: 24, labelNames: ["circle", "square"], format: "folders", source: "shapes.zip" });
    const table = run(["list", "--store", store]);
    expect(table.stdout).toMatch(/ds-[0-9a-f]{20}\s+Shapes\s+24\s+6x6x1\s+2\s+folders/);
  });

  it("refuses bad usage with exit 2", () => {
    expect(run(["import", zip, "--resize", "stretch", "--store", store]).code).toBe(2);
    expect(run(["import", zip, "--size", "32x32", "--store", store]).stderr).toMatch(/--size needs --resize fit/);
    expect(run(["frobnicate"]).code).toBe(2);
  });
});
