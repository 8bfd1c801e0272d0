// Applies prisma/migrations/<name>/migration.sql at start-up and records each one in a `_prisma_migrations` table shaped
// like Prisma's own, so that `prisma migrate deploy` on a machine that can reach Prisma's engine agrees with what ran
// here. `prisma migrate` itself cannot run on these machines (it downloads its schema engine), so the SQL is written by
// hand in the shape Prisma would produce from prisma/schema.prisma; tests/integration/db-schema.test.ts proves the
// result matches the generated client, model by model and field by field.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

/** The project's migrations folder (prisma/migrations), found from this file so the cwd does not matter. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/** Prisma's own migrations table, as its schema engine creates it for SQLite. */
const MIGRATIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(
    message: string,
    readonly migration: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface MigrationFolder {
  name: string;
  file: string;
  sql: string;
  /** SHA-256 (hex) of migration.sql's bytes: the checksum Prisma records. */
  checksum: string;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The migration folders (those holding a migration.sql), in name order, which is the order they apply in. */
export function listMigrations(migrationsDir: string = DEFAULT_MIGRATIONS_DIR): MigrationFolder[] {
  if (!existsSync(migrationsDir)) throw new Error(`migrations folder not found: ${migrationsDir}`);
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(migrationsDir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => {
      const file = path.join(migrationsDir, name, "migration.sql");
      const bytes = readFileSync(file);
      return { name, file, sql: bytes.toString("utf8"), checksum: sha256Hex(bytes) };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/**
 * Brings the SQLite file up to date: creates its folder and `_prisma_migrations`, switches the file to WAL, then applies
 * every pending migration in name order, each in its own transaction together with its `_prisma_migrations` row.
 * Throws a MigrationError naming the migration when one that was applied has since been edited (its checksum changed),
 * when one failed earlier (a row without finished_at, as `prisma migrate deploy` leaves it), or when one fails now
 * (nothing of it is kept).
 */
export function applyMigrations(dbFile: string, migrationsDir: string = DEFAULT_MIGRATIONS_DIR): { applied: string[] } {
  const migrations = listMigrations(migrationsDir);
  mkdirSync(path.dirname(path.resolve(dbFile)), { recursive: true });
  const db = new Database(dbFile);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.exec(MIGRATIONS_TABLE_SQL);

    const rows = db.prepare(`SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`).all() as AppliedRow[];
    const done = new Map<string, AppliedRow>();
    for (const row of rows) {
      if (row.rolled_back_at !== null) continue; // rolled back: Prisma applies it again
      if (row.finished_at === null) {
        throw new MigrationError(
          `migration ${row.migration_name} failed earlier and was never finished; fix the database, then mark it ` +
            `(prisma migrate resolve --rolled-back ${row.migration_name}) before starting again`,
          row.migration_name,
        );
      }
      done.set(row.migration_name, row);
    }

    const insert = db.prepare(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
    );
    const applied: string[] = [];
    for (const m of migrations) {
      const previous = done.get(m.name);
      if (previous) {
        if (previous.checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.name} was already applied to ${dbFile}, but its migration.sql has changed since ` +
              `(checksum ${previous.checksum} recorded, ${m.checksum} now). Applied migrations must never be edited: ` +
              `restore the file and put the change in a new migration.`,
            m.name,
          );
        }
        continue;
      }
      const startedAt = Date.now();
      // Foreign keys are switched off around the migration (a no-op inside a transaction, so outside it), as Prisma's
      // table-redefining migrations expect: with them on, `DROP TABLE` of a parent would cascade into its children.
      // The keys are checked before the transaction commits.
      db.pragma("foreign_keys = OFF");
      try {
        db.transaction(() => {
          db.exec(m.sql);
          const violations = db.pragma("foreign_key_check") as unknown[];
          if (violations.length > 0) {
            throw new Error(`leaves ${violations.length} foreign key violation(s): ${JSON.stringify(violations.slice(0, 5))}`);
          }
          insert.run(randomUUID(), m.checksum, Date.now(), m.name, startedAt);
        })();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new MigrationError(`migration ${m.name} failed and was rolled back: ${why}`, m.name, { cause: e });
      } finally {
        db.pragma("foreign_keys = ON");
      }
      applied.push(m.name);
    }
    return { applied };
  } finally {
    db.close();
  }
}
