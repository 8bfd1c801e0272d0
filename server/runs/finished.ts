/**
 * A read model: a session's finished runs (completed, stopped, failed, interrupted), newest first, each with its
 * Config's essentials, final grid and losses, and its checkpoints (`runs.finished`, the history page).
 */
import { parseConfig } from "../../lib/gan/config";
import { ENDED_STATUSES } from "../../lib/gan/vocabulary";
import type { DatasetService } from "../datasets/service";
import type { Store } from "../db/store";
import { gridUrl } from "./service";

/** A finished run's trainer has ended: the vocabulary's ENDED_STATUSES. */
const FINISHED = new Set<string>(ENDED_STATUSES);

/** What the read model reads: the session's runs, their grids, last losses and checkpoints, and data set names. */
export interface FinishedSources {
  store: Pick<Store, "listRuns" | "listGrids" | "lastIteration" | "metrics" | "latestCheckpoint" | "listCheckpoints">;
  datasets: Pick<DatasetService, "names">;
}

/** The session's finished runs, newest first, with final grid and checkpoints. */
export async function finishedRuns(sources: FinishedSources, sessionId: string) {
  const { store } = sources;
  const runs = (await store.listRuns(sessionId)).filter((r) => FINISHED.has(r.status)).reverse();
  const names = await sources.datasets.names(sessionId);
  return Promise.all(
    runs.map(async (r) => {
      const config = parseConfig(r.config);
      const grids = await store.listGrids(r.id);
      const last = await store.lastIteration(r.id);
      const finalLosses = last === null ? null : ((await store.metrics(r.id, { afterIteration: last - 1, limit: 1 }))[0] ?? null);
      return {
        id: r.id,
        name: r.name,
        status: r.status,
        failureReason: r.failureReason,
        epoch: r.epoch,
        iteration: r.iteration,
        backend: r.backend,
        network: typeof config.network === "string" ? config.network : config.network.name,
        datasetName: names.get(r.datasetRef) ?? r.datasetRef,
        maxEpoch: config.maxEpoch,
        batchSize: config.batchSize,
        createdAt: r.createdAt.toISOString(),
        updatedAt: r.updatedAt.toISOString(),
        finalGrid: grids.length ? { epoch: grids[grids.length - 1]!.epoch, url: gridUrl(r.id, grids[grids.length - 1]!.epoch) } : null,
        gridCount: grids.length,
        finalLosses: finalLosses ? { gReal: finalLosses.gReal, fake: finalLosses.fake, real: finalLosses.real } : null,
        /** What can be downloaded: the newest checkpoint of each kind (its folder holds only that one). */
        downloads: (await Promise.all((["latest", "best"] as const).map((kind) => store.latestCheckpoint(r.id, kind))))
          .filter((c) => c !== null)
          .map((c) => ({ kind: c.kind, epoch: Math.round(c.epoch), iteration: c.iteration, bytes: c.bytes })),
        checkpoints: (await store.listCheckpoints(r.id)).map((c) => ({
          id: c.id,
          kind: c.kind,
          epoch: c.epoch,
          iteration: c.iteration,
          bytes: c.bytes,
          createdAt: c.createdAt.toISOString(),
        })),
      };
    }),
  );
}
