/**
 * The server's environment, validated once at start: a bad value stops the process with a message naming it,
 * instead of failing at the first request.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { loadLimits, LimitsError, type Limits } from "./limits";

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  /** Port of the one HTTP server (Next pages, tRPC, socket.io). 0 picks a free one (tests). */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address to listen on; 127.0.0.1 keeps a development server off the network. */
  HOST: z.string().min(1).default("127.0.0.1"),
  /** SQLite file (`file:./data/gan-studio.db`, the default) — the embedded default needs no set-up. */
  DATABASE_URL: z.string().min(1).default("file:./data/gan-studio.db"),
  /**
   * Redis (`redis://host:6379`): set, this process is one of a cluster of web processes sharing DATABASE_URL
   * (PostgreSQL) and this Redis (server/cluster/node.ts). Unset (the default): one process is the whole service.
   */
  REDIS_URL: z.string().default(""),
  /** This process's id in the cluster (default host:pid:random). */
  GAN_NODE_ID: z
    .string()
    .max(100)
    .regex(/^[A-Za-z0-9._:-]*$/, "letters, digits and . _ : - only")
    .default(""),
  /** Backend the trainer processes use; empty picks the fastest that works. */
  GAN_BACKEND: z.enum(["", "auto", "tensorflow", "webgpu", "wasm", "cpu"]).default(""),
  /** Where runs write checkpoints and the data sets live. */
  DATA_DIR: z.string().min(1).default("./data"),
  /** Seals the session cookie (iron-session): at least 32 characters. Unset: one is made in DATA_DIR/session-secret. */
  SESSION_SECRET: z.string().min(32, "SESSION_SECRET must be at least 32 characters").optional(),
  /** Serve the Next.js pages (off in API-only tests). */
  SERVE_APP: z
    .enum(["0", "1", "true", "false"])
    .default("1")
    .transform((v) => v === "1" || v === "true"),
});

export type ServerEnv = z.infer<typeof EnvSchema> & { SESSION_SECRET: string; dataDir: string; limits: Limits };

export class EnvError extends Error {}

/**
 * Without SESSION_SECRET, the secret lives in `<DATA_DIR>/session-secret` (made once from 32 random bytes,
 * readable by the owner only), so the embedded defaults start with no set-up and cookies survive restarts.
 */
function sessionSecretFile(dataDir: string): string {
  const file = path.join(dataDir, "session-secret");
  if (existsSync(file)) {
    const secret = readFileSync(file, "utf8").trim();
    if (secret.length < 32) throw new EnvError(`${file} holds fewer than 32 characters: delete it to make a new one`);
    return secret;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): ServerEnv {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new EnvError(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const env = parsed.data;
  let limits: Limits;
  try {
    limits = loadLimits(source);
  } catch (e) {
    if (e instanceof LimitsError) throw new EnvError(e.message);
    throw e;
  }
  const dataDir = path.resolve(env.DATA_DIR);
  return { ...env, SESSION_SECRET: env.SESSION_SECRET ?? sessionSecretFile(dataDir), dataDir, limits };
}
