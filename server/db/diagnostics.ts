// Diagnostics: an epoch's metrics by name and the collapse alarms raised then, one row per run and epoch (JSON).
import { type StoreDb, storeError } from "./shared";

/** An epoch's diagnostics as stored: the metrics by name and the collapse alarms raised at that epoch. */
export interface DiagnosticsInput {
  epoch: number;
  iteration: number;
  metrics: Record<string, number>;
  alarms: { rule: string; epoch: number; message: string; evidence?: unknown }[];
}

export class DiagnosticsStore {
  constructor(private readonly db: StoreDb) {}

  /** Saves an epoch's diagnostics (metrics and the alarms raised then); the same epoch again replaces it. */
  async saveDiagnostics(runId: string, d: DiagnosticsInput): Promise<void> {
    const fields = { iteration: d.iteration, metricsJson: JSON.stringify(d.metrics), alarmsJson: JSON.stringify(d.alarms), createdAt: this.db.now() };
    try {
      await this.db.prisma.diagnosticsPoint.upsert({
        where: { runId_epoch: { runId, epoch: d.epoch } },
        create: { runId, epoch: d.epoch, ...fields },
        update: fields,
        select: { epoch: true },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save diagnostics for` });
    }
  }

  /** The run's diagnostics in epoch order. */
  async listDiagnostics(runId: string): Promise<DiagnosticsInput[]> {
    const rows = await this.db.prisma.diagnosticsPoint.findMany({ where: { runId }, orderBy: { epoch: "asc" } });
    return rows.map((r) => ({
      epoch: r.epoch,
      iteration: r.iteration,
      metrics: JSON.parse(r.metricsJson) as Record<string, number>,
      alarms: JSON.parse(r.alarmsJson) as DiagnosticsInput["alarms"],
    }));
  }
}
