/**
 * The connection banner for lost services, in a real browser: a server of its own on PostgreSQL and Redis (both
 * started here on loopback, as in the cluster test). Redis is killed: the page says this server lost Redis, and
 * the line goes once Redis is back; PostgreSQL is killed: the page says the server lost its database, and the
 * line goes once it is back. Nothing is reloaded, nothing is clicked.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { freePort, type PostgresServer, startPostgres } from "../../server/cluster/postgres";
import { type RedisServer, startRedis } from "../../server/cluster/redis";
import { createSession, DESKTOP, PHONE, shot, signUp } from "./helpers";
import { readState, waitForHealth } from "./server";

const ROOT = path.resolve(import.meta.dirname, "../..");

test("a page says when its server lost Redis or its database, and clears it by itself once they are back", async ({ browser }) => {
  test.setTimeout(240_000);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "gan-e2e-services-"));
  chmodSync(tmp, 0o711); // PostgreSQL's own user must pass through it
  let pg: PostgresServer | null = null;
  let redis: RedisServer | null = null;
  let server: ChildProcess | null = null;
  try {
    pg = await startPostgres({ dir: path.join(tmp, "pg") });
    redis = await startRedis();
    const port = await freePort();
    const env = {
      ...readState().env,
      PORT: String(port),
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      GAN_NODE_ID: "e2e-banner",
      DATA_DIR: path.join(tmp, "data"),
    };
    const log = openSync(path.join(ROOT, "test-results", "e2e-services-server.log"), "w");
    // Node itself with tsx's loader (not the tsx binary, whose child would outlive a SIGKILL of it).
    server = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", log, log],
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url);

    const context = await browser.newContext({ baseURL: url, viewport: DESKTOP });
    const page = await context.newPage();
    await signUp(page, "Pat");
    const sessionId = await createSession(page, "Outages");
    await page.goto(`/sessions/${sessionId}`);
    await expect(page.getByTestId("session-view")).toHaveAttribute("data-connection", "live");
    await expect(page.getByTestId("services-banner")).toHaveCount(0);

    await redis.kill();
    const banner = page.getByTestId("services-banner");
    await expect(banner).toContainText("This server lost Redis", { timeout: 30_000 });
    await shot(page, "session-redis-lost-desktop");
    await redis.start();
    await expect(banner).toHaveCount(0, { timeout: 30_000 });

    pg.kill();
    await expect(banner).toContainText("The server lost its PostgreSQL database", { timeout: 30_000 });
    await expect(banner).toContainText("It reconnects by itself");
    await shot(page, "session-database-lost-desktop");
    await page.setViewportSize(PHONE);
    await shot(page, "session-database-lost-phone");
    await page.setViewportSize(DESKTOP);
    pg.start();
    await expect(banner).toHaveCount(0, { timeout: 60_000 });
    await expect(page.getByTestId("session-view")).toHaveAttribute("data-connection", "live");
    await context.close();
  } finally {
    server?.kill("SIGKILL");
    await redis?.kill();
    pg?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
