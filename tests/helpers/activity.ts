/** Activity rows by the thousand, written straight to the database (Prisma's createMany takes ~10 s for 20,000 here). */
import type { PrismaClient } from "../../server/db/client";
import { testDatabaseKind } from "./env";

/**
 * `count` run.error entries of one run, dated one millisecond apart from `from` on (ISO text, as the store writes
 * them), so they are the run's newest entries: what a read of the latest 10,000 would see instead of older controls.
 */
export function insertUnrelatedActivity(prisma: PrismaClient, at: { sessionId: string; runId: string | null }, count: number, from = Date.now() + 1000) {
  if (testDatabaseKind() === "postgresql") {
    return prisma.$executeRawUnsafe(
      `INSERT INTO "ActivityEntry" ("id", "sessionId", "runId", "userId", "kind", "detail", "iteration", "createdAt")
       SELECT 'unrelated-' || md5(random()::text) || '-' || i, $2, $3, NULL, 'run.error', '{"message":"unrelated"}', i,
              to_timestamp(($4::bigint + i) / 1000.0) AT TIME ZONE 'UTC'
       FROM generate_series(0, $1::int - 1) AS i`,
      count,
      at.sessionId,
      at.runId,
      from,
    );
  }
  return prisma.$executeRawUnsafe(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
     INSERT INTO ActivityEntry (id, sessionId, runId, userId, kind, detail, iteration, createdAt)
     SELECT 'unrelated-' || lower(hex(randomblob(8))) || '-' || i, ?, ?, NULL, 'run.error', '{"message":"unrelated"}', i,
            strftime('%Y-%m-%dT%H:%M:%fZ', (? + i) / 1000.0, 'unixepoch')
     FROM n`,
    count,
    at.sessionId,
    at.runId,
    from,
  );
}
