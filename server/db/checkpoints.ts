// Checkpoints: the folders the trainer wrote (kind "latest" or "best"), per run.
import { randomUUID } from "node:crypto";
import { type StoreDb, storeError } from "./shared";

export interface CheckpointInput {
  kind: string;
  epoch: number;
  iteration: number;
  dir: string;
  bytes: number;
}
export interface CheckpointRecord extends CheckpointInput {
  id: string;
  runId: string;
  createdAt: Date;
}

export class CheckpointStore {
  constructor(private readonly db: StoreDb) {}

  async saveCheckpoint(runId: string, checkpoint: CheckpointInput): Promise<CheckpointRecord> {
    try {
      return await this.db.prisma.checkpoint.create({
        data: {
          id: randomUUID(),
          runId,
          kind: checkpoint.kind,
          epoch: checkpoint.epoch,
          iteration: checkpoint.iteration,
          dir: checkpoint.dir,
          bytes: checkpoint.bytes,
          createdAt: this.db.now(),
        },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save a checkpoint for` });
    }
  }

  /** The run's checkpoint of this kind with the highest iteration (the newest among equals), or null. */
  async latestCheckpoint(runId: string, kind = "latest"): Promise<CheckpointRecord | null> {
    return this.db.prisma.checkpoint.findFirst({
      where: { runId, kind },
      orderBy: [{ iteration: "desc" }, { createdAt: "desc" }],
    });
  }

  /** The run's checkpoints, all kinds, in iteration order. */
  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    return this.db.prisma.checkpoint.findMany({ where: { runId }, orderBy: [{ iteration: "asc" }, { createdAt: "asc" }] });
  }
}
