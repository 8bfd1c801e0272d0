/**
 * The CLIs as a user runs them (through tsx, in a child process): train, generate, bench:train, and their
 * errors for bad input.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodePng } from "../../lib/gan/image";

const root = path.resolve(__dirname, "../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "lib/gan/cli", script), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, GAN_BACKEND: "wasm", ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm run train / generate", () => {
  const out = path.join(tmp, "run");

  it("trains headless, reporting the backend, and writes config, losses, grids and a checkpoint", () => {
    const r = run("train.ts", ["--epochs", "1", "--limit", "64", "--batch", "16", "--network", "small-dcgan", "--diagnostics", "off", "--out", out]);
    expect(r.stderr).toMatch(/backend: wasm \(/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(r.stderr).toMatch(/completed at iteration 4 /);
    expect(readdirSync(path.join(out, "grids"))).toEqual(["epoch-001.png"]);
    expect(readFileSync(path.join(out, "losses.csv"), "utf8").trim().split("\n")).toHaveLength(5); // header + 4 iterations
    expect(JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"))).toMatchObject({
      maxEpoch: 1,
      batchSize: 16,
      limit: 64,
      network: "small-dcgan",
      saveBest: false,
    });
    expect(existsSync(path.join(out, "latest", "model.json"))).toBe(true);
  });

  it("generates a digit from the checkpoint", () => {
    const png = path.join(tmp, "seven.png");
    const r = run("generate.ts", ["--checkpoint", path.join(out, "latest"), "--label", "7", "--seed", "3", "--count", "4", "--out", png]);
    expect(r.code).toBe(0);
    const img = decodePng(readFileSync(png));
    expect([img.width, img.height, img.channels]).toEqual([4 * 30 + 2, 32, 1]);
  });

  it("takes the run folder that train --out wrote, meaning its latest checkpoint: the same picture", () => {
    const fromRun = path.join(tmp, "seven-run.png");
    const r = run("generate.ts", ["--checkpoint", out, "--label", "7", "--seed", "3", "--count", "4", "--out", fromRun]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`using the run's latest checkpoint: ${path.join(out, "latest")}`);
    expect(readFileSync(fromRun).equals(readFileSync(path.join(tmp, "seven.png")))).toBe(true);
    const nowhere = run("generate.ts", ["--checkpoint", tmp, "--label", "7", "--out", path.join(tmp, "y.png")]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain(`no checkpoint at ${tmp}: it holds neither model.json (a checkpoint folder) nor latest/model.json`);
  });

  it("refuses bad input with a clear message and a non-zero exit", () => {
    const bad = run("train.ts", ["--epochs", "two"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--epochs must be an integer ≥ 1, got "two"');
    const unknown = run("train.ts", ["--epoch", "2"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--epoch'/);
    const cfg = path.join(tmp, "bad-config.json");
    writeFileSync(cfg, JSON.stringify({ maxEpochs: 3 }));
    const badConfig = run("train.ts", ["--config", cfg]);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/ConfigError: invalid config: .*maxEpochs/);
    const noData = run("train.ts", ["--dataset", path.join(tmp, "missing.csv")]);
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/missing\.csv/);
    const badLabel = run("generate.ts", ["--checkpoint", path.join(out, "latest"), "--label", "12", "--out", path.join(tmp, "x.png")]);
    expect(badLabel.code).toBe(1);
    expect(badLabel.stderr).toContain("label must be an integer from 0 to 9, got 12");
    const badBackend = run("train.ts", ["--epochs", "1"], { GAN_BACKEND: "tpu" });
    expect(badBackend.code).toBe(1);
    expect(badBackend.stderr).toContain('unknown backend "tpu": choose one of tensorflow, webgpu, wasm, cpu or auto');
  });
});

describe("npm run bench:train", () => {
  it("prints a table and, last, one JSON line with the figures", () => {
    const r = run("bench-train.ts", ["--backend", "wasm", "--spec", "small-dcgan", "--batch", "8", "--iters", "2", "--warmup", "1", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^\| backend \| spec/);
    const json = JSON.parse(lines.at(-1)!);
    expect(json).toMatchObject({ backend: "wasm", spec: "small-dcgan", batch: 8, tensorsAfter: 0 });
    expect(json.imagesPerSec).toBeGreaterThan(0);
    expect(json.msPerIter).toBeCloseTo((8 * 1000) / json.imagesPerSec, 6);
  });
});
