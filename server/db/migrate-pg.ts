// Applies prisma/postgresql/migrations/<name>/migration.sql to a PostgreSQL database at start-up, recording each in
// `_prisma_migrations` shaped as Prisma's schema engine creates it for PostgreSQL, with the rules of the SQLite
// migrator (server/db/migrate.ts): name order, each migration with its row in one transaction (PostgreSQL's DDL is
// transactional), an edited or earlier-failed migration refused with its name. Several web processes of a cluster may
// start at once: the whole run holds a session advisory lock, so exactly one applies and the others find it done.
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { listMigrations, MigrationError } from "./migrate";

/** The PostgreSQL migrations folder (prisma/postgresql/migrations). */
export const PG_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/postgresql/migrations", import.meta.url));

/** Prisma's own migrations table, as its schema engine creates it for PostgreSQL. */
const MIGRATIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/** The advisory lock's key: any fixed 64-bit number ("GANSTUDI" in ASCII). */
const LOCK_KEY = "5134492211669701705";

/** DATABASE_URL names no database GAN Studio can use, or one it cannot reach: the message says which and why. */
export class DatabaseUrlError extends Error {
  override name = "DatabaseUrlError";
}

/** Opens a connection, with the error naming the URL (without its password) when the database cannot be reached. */
export async function connectPg(url: string, what = "DATABASE_URL"): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new DatabaseUrlError(`${what} ${redactUrl(url)}: cannot connect to PostgreSQL (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  return client;
}

/** The URL with its password replaced by ***, for messages and logs. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(url)) return url; // no user part, so no password: a path or file: URL
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unreadable URL)";
  }
}

export async function applyPgMigrations(url: string, migrationsDir: string = PG_MIGRATIONS_DIR): Promise<{ applied: string[] }> {
  const migrations = listMigrations(migrationsDir);
  const db = await connectPg(url);
  try {
    await db.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    await db.query(MIGRATIONS_TABLE_SQL);
    const { rows } = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const done = new Map<string, string>();
    for (const row of rows) {
      if (row.rolled_back_at !== null) continue;
      if (row.finished_at === null) {
        throw new MigrationError(
          `migration ${row.migration_name} failed earlier and was never finished; fix the database, then mark it ` +
            `(prisma migrate resolve --rolled-back ${row.migration_name}) before starting again`,
          row.migration_name,
        );
      }
      done.set(row.migration_name, row.checksum);
    }
    const applied: string[] = [];
    for (const m of migrations) {
      const previous = done.get(m.name);
      if (previous !== undefined) {
        if (previous !== m.checksum) {
          throw new MigrationError(
            `migration ${m.name} was already applied to ${redactUrl(url)}, but its migration.sql has changed since ` +
              `(checksum ${previous} recorded, ${m.checksum} now). Applied migrations must never be edited: ` +
              `restore the file and put the change in a new migration.`,
            m.name,
          );
        }
        continue;
      }
      const startedAt = new Date();
      try {
        await db.query("BEGIN");
        await db.query(m.sql);
        await db.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), m.checksum, m.name, startedAt],
        );
        await db.query("COMMIT");
      } catch (e) {
        await db.query("ROLLBACK").catch(() => undefined);
        const why = e instanceof Error ? e.message : String(e);
        throw new MigrationError(`migration ${m.name} failed and was rolled back: ${why}`, m.name, { cause: e });
      }
      applied.push(m.name);
    }
    return { applied };
  } finally {
    await db.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}
