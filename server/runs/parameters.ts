/**
 * A read model: a run's ParameterScopes with every LRateMultiplier, each training network's optimizer α, its layers
 * and networks (the parameter table and the network view, `runs.parameters`).
 */
import { parseConfig } from "../../lib/gan/config";
import { TRAINING_NETWORKS } from "../../lib/gan/spec";
import type { DatasetService } from "../datasets/service";
import type { Store } from "../db/store";
import type { RunService } from "./service";

const TRAINABLE = new Set(["W", "b", "beta", "gamma"]);

/** Who made the last change to a value, and when (for the parameter table). */
interface LastChange {
  userName: string | null;
  iteration: number | null;
  at: string;
}

/** What the read model reads: the activity log, the live trainer's report, the run's spec and its labels' names. */
export interface ParameterSources {
  store: Pick<Store, "listActivity">;
  runs: Pick<RunService, "parameters">;
  datasets: Pick<DatasetService, "specForRun" | "labelNames">;
}

/**
 * A run's ParameterScopes with every LRateMultiplier, each training network's optimizer α, and its layers (for the
 * network view), whether or not a trainer process is live: the Config's values, then every change recorded in the
 * activity log, then (when a trainer runs) the multipliers it reported.
 */
export async function runParameters(sources: ParameterSources, run: { id: string; sessionId: string; config: unknown }) {
  const config = parseConfig(run.config);
  const resolved = await sources.datasets.specForRun(config);
  const multipliers = new Map<string, number>();
  for (const p of resolved.parameters) {
    if (p.trainable) multipliers.set(`${p.scope}/${p.name}`, (config.lrMultipliers[p.scope] as Record<string, number | undefined> | undefined)?.[p.name] ?? 1);
  }
  const optimizers = new Map<string, { type: string; alpha: number }>(
    TRAINING_NETWORKS.map((n) => [n, { type: config.optimizers[n].type, alpha: config.optimizers[n].alpha }]),
  );
  const changes = new Map<string, LastChange>();
  for (const a of await sources.store.listActivity(run.sessionId, { runId: run.id, limit: 10_000 })) {
    const d = a.detail;
    const who: LastChange = { userName: a.userName, iteration: a.iteration, at: a.createdAt.toISOString() };
    if (a.kind === "control.lrMultiplier" && typeof d.scope === "string" && typeof d.param === "string" && typeof d.to === "number") {
      const key = `${d.scope}/${d.param}`;
      if (multipliers.has(key)) multipliers.set(key, d.to);
      changes.set(key, who);
    } else if (a.kind === "control.optimizer" && typeof d.network === "string") {
      const to = d.to as { type?: unknown; alpha?: unknown } | undefined;
      const current = optimizers.get(d.network);
      if (current && typeof to?.alpha === "number") optimizers.set(d.network, { type: typeof to.type === "string" ? to.type : current.type, alpha: to.alpha });
      changes.set(`optimizer/${d.network}`, who);
    }
  }
  const live = sources.runs.parameters(run.id);
  for (const [scope, params] of Object.entries(live?.lrMultipliers ?? {})) {
    for (const [param, value] of Object.entries(params)) if (multipliers.has(`${scope}/${param}`)) multipliers.set(`${scope}/${param}`, value);
  }
  const layerInfo = (l: (typeof resolved.layers.generator)[number]) => ({
    index: l.index,
    type: l.layer.type,
    scope: "scope" in l.layer ? l.layer.scope : null,
    inShape: l.inShape,
    outShape: l.outShape,
    labelPlanes: l.labelPlanes ?? false,
  });
  return {
    network: resolved.spec.name,
    description: resolved.spec.description,
    /** The labels the RuntimeGenerator takes (0..numLabels-1), with the data set's names for them when it has some. */
    numLabels: resolved.spec.numLabels,
    labelNames: sources.datasets.labelNames(config.dataset),
    imageShape: [resolved.spec.image.height, resolved.spec.image.width, resolved.spec.image.channels],
    live: live !== null,
    scopes: resolved.scopes.map((s) => ({
      scope: s.scope,
      part: s.part,
      layerType: s.layerType,
      params: resolved.parameters
        .filter((p) => p.scope === s.scope && TRAINABLE.has(p.name))
        .map((p) => ({
          name: p.name as "W" | "b" | "beta" | "gamma",
          shape: p.shape,
          lrMultiplier: multipliers.get(`${p.scope}/${p.name}`) ?? 1,
          lastChange: changes.get(`${p.scope}/${p.name}`) ?? null,
        })),
    })),
    optimizers: TRAINING_NETWORKS.map((network) => ({ network, ...optimizers.get(network)!, lastChange: changes.get(`optimizer/${network}`) ?? null })),
    layers: { generator: resolved.layers.generator.map(layerInfo), discriminator: resolved.layers.discriminator.map(layerInfo) },
    networks: resolved.spec.networks.map((n) => ({ name: n.name, input: n.input, parts: n.parts, trains: n.trains, loss: n.loss })),
  };
}
