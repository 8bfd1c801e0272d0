/**
 * npm run dataset as a user runs it (tsx, a child process) on a temp store: import --json, a rejected import's
 * error JSON with file and row, list --json, and the store taken from GAN_DATASETS_DIR.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../../lib/gan/image";
import { makeZip } from "../helpers/zip-writer";

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
    expect(out).toEqual({
      id: expect.stringMatching(/^ds-[0-9a-f]{20}$/),
      count: 24,
      perLabel: [12, 12],
      imageShape: [6, 6, 1],
      name: "Shapes",
      reused: false,
    });
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

  it("round trip: an imported data set trains two iterations with npm run train, whose Config names it", () => {
    // 16×16 images of two labels (12 each): 10 of each train, 2 validate; at batch 8 that is 2 iterations.
    const bars = (label: number, i: number) => {
      const px = new Uint8Array(256);
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) px[y * 16 + x] = (label === 0 ? x : y) % 4 < 2 ? 200 + i : 10;
      return encodePng({ width: 16, height: 16, channels: 1, data: px });
    };
    const bzip = path.join(tmp, "bars.zip");
    writeFileSync(bzip, makeZip(Array.from({ length: 24 }, (_, i) => ({ name: `${i % 2}/${i}.png`, data: bars(i % 2, i) }))));
    const imported = JSON.parse(run(["import", bzip, "--store", store, "--json"]).stdout) as { id: string; imageShape: number[] };
    expect(imported.imageShape).toEqual([16, 16, 1]);
    const out = path.join(tmp, "run");
    const train = (dataset: string) =>
      spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join(root, "lib/gan/cli/train.ts"),
          "--dataset",
          dataset,
          "--network",
          "small-dcgan",
          "--epochs",
          "1",
          "--batch",
          "8",
          "--diagnostics",
          "off",
          "--out",
          out,
        ],
        { cwd: root, encoding: "utf8", env: { ...process.env, GAN_DATASETS_DIR: store, GAN_BACKEND: "wasm" }, timeout: 240_000 },
      );
    const r = train(imported.id);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as { dataset: string };
    expect(config.dataset).toBe(imported.id);
    expect(readFileSync(path.join(out, "losses.csv"), "utf8").trim().split("\n")).toHaveLength(1 + 2); // header + 2 iterations

    // The 6×6 shapes cannot feed a network that upsamples ×4: the run is refused with the sizes that would work.
    const shapes = JSON.parse(run(["list", "--store", store, "--json"]).stdout) as { id: string; name: string }[];
    const refused = train(shapes.find((d) => d.name === "Shapes")!.id);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/multiples of 4; 6×6 is not: import the data set resized to 4×4 or 8×8/);
  });

  it("refuses bad usage with exit 2", () => {
    expect(run(["import", zip, "--resize", "stretch", "--store", store]).code).toBe(2);
    expect(run(["import", zip, "--size", "32x32", "--store", store]).stderr).toMatch(/--size needs --resize fit/);
    expect(run(["frobnicate"]).code).toBe(2);
  });
});
