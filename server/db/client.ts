// Opens the server's database: a SQLite file (the embedded default: `file:./data/gan-studio.db`) or PostgreSQL
// (`postgresql://…`, for a cluster of web processes). Applies pending migrations (server/db/migrate.ts,
// server/db/migrate-pg.ts), then returns a Prisma client on the matching driver adapter (better-sqlite3 or pg). Both
// clients are generated from prisma/schema.prisma by `npm run db:generate` (./generated, ./generated-pg) and have the
// same models; the Store is typed with the SQLite one and runs unchanged on either (tests/integration/store.test.ts
// runs its contract on both).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client";
import { PrismaClient as PgPrismaClient } from "./generated-pg/client";
import { applyMigrations } from "./migrate";
import { applyPgMigrations, DatabaseUrlError, redactUrl } from "./migrate-pg";

export { DatabaseUrlError, redactUrl } from "./migrate-pg";

export type { PrismaClient };

/** Per-connection settings for the adapter's connection (WAL itself is a property of the file, set by applyMigrations). */
const CONNECTION_PRAGMAS = "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";

/** The Prisma adapter, with foreign keys and synchronous = NORMAL set on its connection rather than left to defaults. */
class TunedBetterSqlite3 extends PrismaBetterSqlite3 {
  override async connect() {
    const adapter = await super.connect();
    await adapter.executeScript(CONNECTION_PRAGMAS);
    return adapter;
  }
}

/**
 * The database file a URL names: `file:./data/app.db`, `file:/abs/app.db`, `file:///abs/app.db` or a plain path;
 * relative paths are taken from process.cwd(). A query string (`?connection_limit=1`) is ignored.
 */
export function resolveDatabaseFile(url: string): string {
  const bare = url.trim();
  if (bare === "" || bare === ":memory:" || bare === "file::memory:") {
    throw new Error(`database url ${JSON.stringify(url)}: an in-memory database cannot be migrated and shared; name a file`);
  }
  if (bare.startsWith("file://")) return fileURLToPath(bare.split("?")[0] ?? bare);
  const p = (bare.startsWith("file:") ? bare.slice("file:".length) : bare).split("?")[0] ?? "";
  if (p === "") throw new Error(`database url ${JSON.stringify(url)} names no file`);
  return path.resolve(process.cwd(), p);
}

export type DatabaseKind = "sqlite" | "postgresql";

/** Which database a URL names: `postgres://` or `postgresql://` is PostgreSQL; `file:` or a plain path, SQLite. */
export function databaseKind(url: string): DatabaseKind {
  const bare = url.trim();
  if (/^postgres(ql)?:\/\//i.test(bare)) return "postgresql";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(bare)?.[1];
  if (scheme && scheme.toLowerCase() !== "file") {
    throw new DatabaseUrlError(
      `DATABASE_URL ${redactUrl(bare)}: "${scheme}" is not a database GAN Studio runs on (file: for SQLite, postgresql:// for PostgreSQL)`,
    );
  }
  return "sqlite";
}

export interface OpenedDatabase {
  prisma: PrismaClient;
  kind: DatabaseKind;
  /** Absolute path of the SQLite file; null on PostgreSQL. */
  file: string | null;
  /** The URL without its password, for logs and health. */
  where: string;
  /** Migrations applied by this call (empty when the database was up to date). */
  applied: string[];
}

/**
 * Migrates the database the URL names (a SQLite file and its folder are created if needed; a PostgreSQL database must
 * exist) and opens a Prisma client on it. An unreachable PostgreSQL throws an Error naming the URL (password hidden).
 */
export async function openDatabase(url: string, migrationsDir?: string): Promise<OpenedDatabase> {
  if (databaseKind(url) === "postgresql") {
    const { applied } = migrationsDir === undefined ? await applyPgMigrations(url) : await applyPgMigrations(url, migrationsDir);
    // The two generated clients have the same models and methods; the Store is typed with the SQLite one.
    const prisma = new PgPrismaClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as PrismaClient;
    return { prisma, kind: "postgresql", file: null, where: redactUrl(url), applied };
  }
  const file = resolveDatabaseFile(url);
  const { applied } = migrationsDir === undefined ? applyMigrations(file) : applyMigrations(file, migrationsDir);
  const prisma = new PrismaClient({ adapter: new TunedBetterSqlite3({ url: file }) });
  return { prisma, kind: "sqlite", file, where: file, applied };
}

export type DatabaseState = { ok: true; migrations: number } | { ok: false; error: string };

/** For a health endpoint: the database answers, and how many migrations it has applied. Never throws. */
export async function databaseState(prisma: PrismaClient): Promise<DatabaseState> {
  try {
    await prisma.$queryRaw`SELECT 1 AS ok`;
    const rows = await prisma.$queryRaw<{ n: number | bigint }[]>`
      SELECT COUNT(*) AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
    return { ok: true, migrations: Number(rows[0]?.n ?? 0) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
