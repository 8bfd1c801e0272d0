// Data sets shared in sessions (SessionDataset): which stored data set (lib/gan/data/store.ts) a session has under
// which name, who imported it, and how many of the session's runs use it.
import { type StoreDb, StoreError, storeError } from "./shared";

export interface SessionDatasetRecord {
  sessionId: string;
  datasetId: string;
  name: string;
  importedById: string;
  importedByName: string;
  createdAt: Date;
  /** Runs in this session whose Config names this data set. */
  runCount: number;
}

function toSessionDataset(
  row: { sessionId: string; datasetId: string; name: string; importedById: string; createdAt: Date; importedBy: { name: string } },
  runCount: number,
): SessionDatasetRecord {
  return {
    sessionId: row.sessionId,
    datasetId: row.datasetId,
    name: row.name,
    importedById: row.importedById,
    importedByName: row.importedBy.name,
    createdAt: row.createdAt,
    runCount,
  };
}

export class SessionDatasetStore {
  constructor(private readonly db: StoreDb) {}

  /**
   * Shares a stored data set in a session under a name. Sharing one the session already has keeps the first record
   * (its name, who imported it, when) and returns it with `created: false`.
   */
  async addSessionDataset(input: {
    sessionId: string;
    datasetId: string;
    name: string;
    importedById: string;
  }): Promise<{ record: SessionDatasetRecord; created: boolean }> {
    const existing = await this.getSessionDataset(input.sessionId, input.datasetId);
    if (existing) return { record: existing, created: false };
    try {
      await this.db.prisma.sessionDataset.create({ data: { ...input, createdAt: this.db.now() } });
    } catch (e) {
      throw storeError(e, {
        conflict: `data set ${input.datasetId} is already shared in session ${input.sessionId}`,
        notFound: `no session ${input.sessionId} or no user ${input.importedById}`,
      });
    }
    return { record: (await this.getSessionDataset(input.sessionId, input.datasetId))!, created: true };
  }

  async getSessionDataset(sessionId: string, datasetId: string): Promise<SessionDatasetRecord | null> {
    const row = await this.db.prisma.sessionDataset.findUnique({
      where: { sessionId_datasetId: { sessionId, datasetId } },
      include: { importedBy: { select: { name: true } } },
    });
    if (!row) return null;
    const runCount = await this.db.prisma.run.count({ where: { sessionId, datasetRef: datasetId } });
    return toSessionDataset(row, runCount);
  }

  /** The session's data sets, newest first, each with how many of the session's runs use it. */
  async listSessionDatasets(sessionId: string): Promise<SessionDatasetRecord[]> {
    const rows = await this.db.prisma.sessionDataset.findMany({
      where: { sessionId },
      orderBy: { createdAt: "desc" },
      include: { importedBy: { select: { name: true } } },
    });
    const byRef = await this.runCountsByDataset(sessionId);
    return rows.map((r) => toSessionDataset(r, byRef.get(r.datasetId) ?? 0));
  }

  /** How many of the session's runs name each data set (by Config `dataset`), in one query. */
  async runCountsByDataset(sessionId: string): Promise<Map<string, number>> {
    const counts = await this.db.prisma.run.groupBy({ by: ["datasetRef"], where: { sessionId }, _count: { _all: true } });
    return new Map(counts.map((c) => [c.datasetRef, c._count._all]));
  }

  /**
   * Removes a data set from a session, only when none of the session's runs uses it (CONFLICT otherwise, NOT_FOUND
   * when the session does not have it). Checked and deleted in one transaction, so a run created meanwhile cannot
   * lose its data. Returns whether any session or run anywhere still refers to the stored data.
   */
  async removeSessionDataset(sessionId: string, datasetId: string): Promise<{ stillReferenced: boolean }> {
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.sessionDataset.findUnique({ where: { sessionId_datasetId: { sessionId, datasetId } } });
      if (!row) throw new StoreError("NOT_FOUND", `session ${sessionId} has no data set ${datasetId}`);
      const runs = await tx.run.count({ where: { sessionId, datasetRef: datasetId } });
      if (runs > 0) {
        throw new StoreError(
          "CONFLICT",
          `data set "${row.name}" is used by ${runs} run${runs === 1 ? "" : "s"} of this session; delete is only possible while no run uses it`,
        );
      }
      await tx.sessionDataset.delete({ where: { sessionId_datasetId: { sessionId, datasetId } } });
      const others = await tx.sessionDataset.count({ where: { datasetId } });
      const anyRuns = await tx.run.count({ where: { datasetRef: datasetId } });
      return { stillReferenced: others + anyRuns > 0 };
    });
  }
}
