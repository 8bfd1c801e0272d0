// Sample grids: one PNG per run and epoch, with its SHA-256; listed without their bytes.
import { createHash } from "node:crypto";
import { type StoreDb, storeError } from "./shared";

export interface GridInput {
  epoch: number;
  iteration: number;
  png: Uint8Array;
  rows: number;
  cols: number;
}

export interface GridInfo {
  epoch: number;
  iteration: number;
  /** SHA-256 (hex) of the PNG bytes. */
  sha256: string;
  rows: number;
  cols: number;
}
export interface GridRecord extends GridInfo {
  png: Uint8Array;
}

export class GridStore {
  constructor(private readonly db: StoreDb) {}

  /** Stores the epoch's grid with its SHA-256; saving the same (run, epoch) again replaces it. */
  async saveGrid(runId: string, grid: GridInput): Promise<GridInfo> {
    const png = new Uint8Array(grid.png);
    const sha256 = createHash("sha256").update(png).digest("hex");
    const fields = { iteration: grid.iteration, png, sha256, rows: grid.rows, cols: grid.cols, createdAt: this.db.now() };
    try {
      await this.db.prisma.sampleGrid.upsert({
        where: { runId_epoch: { runId, epoch: grid.epoch } },
        create: { runId, epoch: grid.epoch, ...fields },
        update: fields,
        select: { epoch: true },
      });
    } catch (e) {
      throw storeError(e, { notFound: `no run ${runId} to save a grid for` });
    }
    return { epoch: grid.epoch, iteration: grid.iteration, sha256, rows: grid.rows, cols: grid.cols };
  }

  /** The run's grids in epoch order, without their bytes. */
  async listGrids(runId: string): Promise<GridInfo[]> {
    return this.db.prisma.sampleGrid.findMany({
      where: { runId },
      orderBy: { epoch: "asc" },
      select: { epoch: true, iteration: true, sha256: true, rows: true, cols: true },
    });
  }

  async getGrid(runId: string, epoch: number): Promise<GridRecord | null> {
    const row = await this.db.prisma.sampleGrid.findUnique({
      where: { runId_epoch: { runId, epoch } },
      select: { epoch: true, iteration: true, sha256: true, rows: true, cols: true, png: true },
    });
    return row ? { ...row, png: new Uint8Array(row.png) } : null;
  }
}
