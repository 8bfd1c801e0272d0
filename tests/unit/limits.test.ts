/**
 * The one table of limits (server/limits.ts): validated at start, resolved from the machine where asked, and the
 * same in docs/security.md as in the code.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EnvError, loadEnv } from "../../server/env";
import { DEFAULT_LIMITS, LimitsSchema, loadLimits, machineTrainerSlots } from "../../server/limits";

const env = (vars: Record<string, string>) => vars as unknown as NodeJS.ProcessEnv;

describe("limits", () => {
  it("a bad value stops the start naming the variable", () => {
    expect(() => loadLimits(env({ GAN_MAX_TRPC_BATCH: "0" }))).toThrow(/GAN_MAX_TRPC_BATCH/);
    expect(() => loadLimits(env({ GAN_MAX_JSON_BODY_KB: "lots" }))).toThrow(/GAN_MAX_JSON_BODY_KB/);
    expect(() => loadEnv(env({ DATA_DIR: "/tmp", SESSION_SECRET: "x".repeat(40), DATASET_MAX_UPLOAD_MB: "-1" }))).toThrow(EnvError);
    expect(loadLimits(env({ GAN_MAX_SESSIONS_PER_USER: "3" })).GAN_MAX_SESSIONS_PER_USER).toBe(3);
  });

  it("trainer slots come from the cores and the memory (about 1.5 GiB each), at least one", () => {
    expect(machineTrainerSlots(2, 24 * 2 ** 30)).toBe(2);
    expect(machineTrainerSlots(16, 4 * 2 ** 30)).toBe(2);
    expect(machineTrainerSlots(8, 2 ** 30)).toBe(1);
    expect(loadLimits(env({})).GAN_MAX_LIVE_TRAINERS).toBeGreaterThanOrEqual(1);
    expect(loadLimits(env({ GAN_MAX_LIVE_TRAINERS: "7" })).GAN_MAX_LIVE_TRAINERS).toBe(7);
  });

  it("docs/security.md lists every limit with the default the code has", () => {
    const doc = readFileSync(path.join(import.meta.dirname, "../../docs/security.md"), "utf8");
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());
    const raw = LimitsSchema.parse({});
    for (const name of Object.keys(LimitsSchema.shape) as (keyof typeof raw)[]) {
      expect(rows.has(name), `${name} is missing from docs/security.md`).toBe(true);
      const value = raw[name];
      const shown = rows.get(name)!.replace(/,/g, "");
      if (typeof value === "number") expect(Number.parseFloat(shown), name).toBe(value);
      else expect(shown, name).toBe("(empty)");
    }
    expect(DEFAULT_LIMITS.GAN_MAX_JSON_BODY_KB).toBe(256);
  });
});
