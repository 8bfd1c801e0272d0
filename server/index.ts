/**
 * Starts GAN Studio: validates the environment, prepares the Next.js app, then serves pages, tRPC, socket.io and
 * the PNG endpoints on one port. SIGTERM/SIGINT shut down gracefully (runs pause and write a checkpoint).
 *   npm start        (production: after npm run build)
 *   npm run dev      (development, hot reload)
 */
import next from "next";
import { startServer } from "./app";
import { RedisUrlError } from "./cluster/node";
import { DatabaseUrlError, redactUrl } from "./db/client";
import { MigrationError } from "./db/migrate";
import { EnvError, loadEnv } from "./env";

async function main() {
  const env = loadEnv();
  let nextHandler: ReturnType<ReturnType<typeof next>["getRequestHandler"]> | undefined;
  if (env.SERVE_APP) {
    const app = next({ dev: env.NODE_ENV !== "production", dir: process.cwd(), hostname: env.HOST, port: env.PORT });
    await app.prepare();
    nextHandler = app.getRequestHandler();
  }
  const server = await startServer(env, nextHandler ? { nextHandler } : {});
  console.log(
    `GAN Studio on ${server.url} (trainer backend: ${env.GAN_BACKEND || "auto"}, database: ${redactUrl(env.DATABASE_URL)}${env.REDIS_URL ? `, cluster via ${redactUrl(env.REDIS_URL)}` : ""})`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: pausing runs, writing checkpoints, closing connections…`);
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error("shutdown failed:", e);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((e: unknown) => {
  // A bad environment or database is the user's to fix: its message alone, no stack.
  console.error(e instanceof EnvError || e instanceof DatabaseUrlError || e instanceof RedisUrlError || e instanceof MigrationError ? e.message : e);
  process.exit(1);
});
