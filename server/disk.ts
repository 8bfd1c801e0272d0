/**
 * Disk: what each user's things take and what the machine has left. A user's usage is the data sets they
 * imported (each stored object once, however many sessions share it), the newest checkpoint of each kind of every
 * run they created (older checkpoint records point at folders written over since), the sample grids of those runs
 * and their uploads waiting to be imported. Uploads, imports and run starts ask `checkRoom` first; a training run
 * whose creator went over, or a disk that fills up, pauses the run (server/runs/server-pauses.ts).
 */
import { statfs } from "node:fs/promises";
import type { DatasetStore } from "../lib/gan/data/store";
import type { Store } from "./db/store";
import { QuotaError, type Limits } from "./limits";

export interface DiskUsage {
  datasets: number;
  checkpoints: number;
  grids: number;
  uploads: number;
  total: number;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20).toLocaleString("en-US")} MiB`;

export class DiskGuard {
  constructor(
    private readonly deps: {
      store: Store;
      datasets: DatasetStore;
      /** Bytes of a user's uploads waiting to be imported. */
      waitingUploadBytes?: (userId: string) => Promise<number>;
      limits: Pick<Limits, "GAN_DISK_QUOTA_PER_USER_MB" | "GAN_MIN_FREE_DISK_MB">;
      /** The folder whose file system holds runs, data sets and the database. */
      dataDir: string;
    },
  ) {}

  get quotaBytes(): number {
    return this.deps.limits.GAN_DISK_QUOTA_PER_USER_MB * 2 ** 20;
  }

  get minFreeBytes(): number {
    return this.deps.limits.GAN_MIN_FREE_DISK_MB * 2 ** 20;
  }

  async usage(userId: string): Promise<DiskUsage> {
    const prisma = this.deps.store.prisma;
    // SUM over SQL (length() is bytes for a BLOB in SQLite and for a bytea in PostgreSQL): no grid is read into JS.
    const [grids] = await prisma.$queryRaw<{ bytes: number | bigint | null }[]>`
      SELECT SUM(length(g."png")) AS bytes FROM "SampleGrid" g JOIN "Run" r ON r."id" = g."runId" WHERE r."createdById" = ${userId}`;
    const [checkpoints] = await prisma.$queryRaw<{ bytes: number | bigint | null }[]>`
      SELECT SUM(c."bytes") AS bytes FROM "Checkpoint" c JOIN "Run" r ON r."id" = c."runId"
      WHERE r."createdById" = ${userId}
        AND c."iteration" = (SELECT MAX(c2."iteration") FROM "Checkpoint" c2 WHERE c2."runId" = c."runId" AND c2."kind" = c."kind")`;
    const imported = await prisma.sessionDataset.findMany({ where: { importedById: userId }, select: { datasetId: true }, distinct: ["datasetId"] });
    let datasets = 0;
    for (const { datasetId } of imported) datasets += this.deps.datasets.get(datasetId)?.bytes ?? 0;
    const u: Omit<DiskUsage, "total"> = {
      datasets,
      checkpoints: Number(checkpoints?.bytes ?? 0),
      grids: Number(grids?.bytes ?? 0),
      uploads: (await this.deps.waitingUploadBytes?.(userId)) ?? 0,
    };
    return { ...u, total: u.datasets + u.checkpoints + u.grids + u.uploads };
  }

  /** Bytes free for this server's files on the disk that holds DATA_DIR. */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.deps.dataDir);
    return s.bavail * s.bsize;
  }

  /** Why the disk cannot take more now (free space under GAN_MIN_FREE_DISK_MB), or null. */
  async lowDiskReason(): Promise<string | null> {
    const free = await this.freeBytes();
    return free < this.minFreeBytes ? `the server's disk has ${mib(free)} free, under the ${mib(this.minFreeBytes)} it keeps free` : null;
  }

  /**
   * Throws a QuotaError ("disk") when `bytes` more of this user's would exceed their quota, or the disk would go
   * under its minimum free space. `what` completes "… to <what>" in the message.
   */
  async checkRoom(userId: string, bytes: number, what: string): Promise<void> {
    const usage = await this.usage(userId);
    if (usage.total + bytes > this.quotaBytes) {
      throw new QuotaError(
        `your files take ${mib(usage.total)} of your ${mib(this.quotaBytes)} disk quota, no room to ${what}: delete data sets or runs you no longer need`,
        {
          name: "disk",
          limit: this.quotaBytes,
          used: usage.total,
        },
      );
    }
    const free = await this.freeBytes();
    if (free - bytes < this.minFreeBytes) {
      throw new QuotaError(`the server's disk is nearly full (${mib(free)} free), no room to ${what}: ask the server's administrator`, {
        name: "disk",
        limit: this.minFreeBytes,
        used: free,
      });
    }
  }
}
