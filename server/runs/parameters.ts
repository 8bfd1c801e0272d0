/**
 * The parameter table's read model. `RunParameterStates` holds each run's ParameterState (lib/protocol/parameters.ts)
 * in memory: seeded from the run's Config, overlaid with what its trainer reports when it is built (`ready`), moved
 * by `applyControl` as the trainer reports each change. Only when it holds nothing for a run (after a restart, or
 * once a run fell out of memory) does it rebuild the state: the Config, then that run's control.* activity entries
 * replayed with the same applyControl, and nothing else of the log.
 *
 * `runParameters` is what `runs.parameters` returns: the run's ParameterScopes with their parameters' shapes, its
 * layers and networks (the network view), and the state.
 */
import { type Config, parseConfig } from "../../lib/gan/config";
import { resolveConfigSpec } from "../../lib/gan/limits";
import type { ResolvedSpec } from "../../lib/gan/spec";
import { PARAMETER_NAMES, type ParameterName, SOLVERS, TRAINING_NETWORKS } from "../../lib/gan/vocabulary";
import { type AppliedControl, applyControl, CONTROL_KINDS, controlOfActivity, type ParameterState } from "../../lib/protocol/parameters";
import type { DatasetService } from "../datasets/service";
import type { Store } from "../db/store";
import { RunError } from "./errors";
import type { RunService } from "./service";

const TRAINABLE = new Set<string>(PARAMETER_NAMES);
const isParameterName = (name: string): name is ParameterName => TRAINABLE.has(name);

/** The state a run starts from: its Config's LRateMultipliers (1 where it names none) and solvers. */
export function initialParameterState(config: Config, resolved: ResolvedSpec): ParameterState {
  const lrMultipliers: ParameterState["lrMultipliers"] = {};
  for (const p of resolved.parameters) {
    if (!p.trainable || !isParameterName(p.name)) continue;
    const configured = (config.lrMultipliers[p.scope] as Partial<Record<ParameterName, number>> | undefined)?.[p.name];
    lrMultipliers[p.scope] = { ...lrMultipliers[p.scope], [p.name]: configured ?? 1 };
  }
  const optimizers: ParameterState["optimizers"] = {};
  for (const n of TRAINING_NETWORKS) optimizers[n] = { type: config.optimizers[n].type, alpha: config.optimizers[n].alpha };
  return { lrMultipliers, optimizers, lastChange: { lrMultipliers: {}, optimizers: {} } };
}

/** What a trainer reports when it is built (lib/protocol/trainer.ts `ready`): every LRateMultiplier and solver now. */
export interface TrainerParameters {
  lrMultipliers: Record<string, Record<string, number>>;
  optimizers: Record<string, { type: string; alpha: number }>;
}

export interface ParameterStateSources {
  store: Pick<Store, "getRun" | "listRunActivity">;
  /** The network a run trains, resolved for its data set (the built-in specs adapt to it). */
  specForRun?(config: Config): Promise<ResolvedSpec>;
}

/** Each run's parameter state, in memory (the most recently used `capacity` runs), rebuilt from its controls when absent. */
export class RunParameterStates {
  private readonly held = new Map<string, ParameterState>();
  private readonly loading = new Map<string, Promise<ParameterState>>();
  /** How many times a state was rebuilt from the activity log (tests read it). */
  rebuilds = 0;

  constructor(
    private readonly sources: ParameterStateSources,
    private readonly capacity = 256,
  ) {}

  /** The run's state now. */
  current(runId: string): Promise<ParameterState> {
    const held = this.held.get(runId);
    if (held) {
      this.keep(runId, held);
      return Promise.resolve(held);
    }
    let loading = this.loading.get(runId);
    if (!loading) {
      loading = this.rebuild(runId)
        .then((state) => {
          // A change applied meanwhile already holds the newer state.
          if (!this.held.has(runId)) this.keep(runId, state);
          return this.held.get(runId) ?? state;
        })
        .finally(() => this.loading.delete(runId));
      this.loading.set(runId, loading);
    }
    return loading;
  }

  /** A change the trainer reported (its activity entry already written): the new state. */
  async apply(runId: string, applied: AppliedControl): Promise<ParameterState> {
    const base = await this.current(runId);
    const next = applyControl(this.held.get(runId) ?? base, applied);
    this.keep(runId, next);
    return next;
  }

  /**
   * The trainer is built: what it reports is what trains (a checkpoint resumed may hold other values than the
   * log). Each value that differs is applied as a change by nobody at `iteration`; those changes come back, to push.
   */
  async ready(runId: string, reported: TrainerParameters, iteration: number): Promise<AppliedControl[]> {
    const base = await this.current(runId);
    let state = this.held.get(runId) ?? base;
    const at = new Date().toISOString();
    const changes: AppliedControl[] = [];
    const by = { userName: null, iteration, at };
    for (const [scope, params] of Object.entries(state.lrMultipliers)) {
      for (const param of PARAMETER_NAMES) {
        const from = params[param];
        const to = reported.lrMultipliers[scope]?.[param];
        if (from === undefined || to === undefined || to === from) continue;
        changes.push({ change: { kind: "lrMultiplier", scope, param, from, to }, ...by });
      }
    }
    for (const network of TRAINING_NETWORKS) {
      const from = state.optimizers[network];
      const to = reported.optimizers[network];
      const type = SOLVERS.find((s) => s === to?.type);
      if (!from || !to || !type || (to.alpha === from.alpha && type === from.type)) continue;
      changes.push({ change: { kind: "optimizer", network, from, to: { type, alpha: to.alpha } }, ...by });
    }
    for (const c of changes) state = applyControl(state, c);
    this.keep(runId, state);
    return changes;
  }

  private keep(runId: string, state: ParameterState): void {
    this.held.delete(runId);
    this.held.set(runId, state);
    if (this.held.size > this.capacity) this.held.delete(this.held.keys().next().value!);
  }

  /** The Config's values, then the run's control.* entries in order (nothing else of the log is read). */
  private async rebuild(runId: string): Promise<ParameterState> {
    this.rebuilds++;
    const run = await this.sources.store.getRun(runId);
    if (!run) throw new RunError("NOT_FOUND", `run ${runId} does not exist`);
    const config = parseConfig(run.config);
    const resolved = await (this.sources.specForRun?.(config) ?? resolveConfigSpec(config));
    let state = initialParameterState(config, resolved);
    for (const entry of await this.sources.store.listRunActivity(runId, CONTROL_KINDS)) {
      const change = controlOfActivity(entry);
      if (change) state = applyControl(state, { change, userName: entry.userName, iteration: entry.iteration, at: entry.createdAt.toISOString() });
    }
    return state;
  }
}

/** What the read model reads: the run service (the state), the run's spec and its labels' names. */
export interface ParameterSources {
  runs: Pick<RunService, "parameterState">;
  datasets: Pick<DatasetService, "specForRun" | "labelNames">;
}

/**
 * A run's ParameterScopes with their trained parameters (name and shape), its layers and networks, and its
 * ParameterState (every LRateMultiplier, each training network's solver and α, who changed each last), whether or
 * not a trainer process is live. Nothing in it follows the run's status (the page refetches it only after a
 * reconnect): what changes arrives as `run:parameters`.
 */
export async function runParameters(sources: ParameterSources, run: { id: string; sessionId: string; config: unknown }) {
  const config = parseConfig(run.config);
  const resolved = await sources.datasets.specForRun(config);
  const state = await sources.runs.parameterState(run.id);
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
    scopes: resolved.scopes.map((s) => ({
      scope: s.scope,
      part: s.part,
      layerType: s.layerType,
      params: resolved.parameters
        .filter((p) => p.scope === s.scope && p.trainable && isParameterName(p.name))
        .map((p) => ({ name: p.name as ParameterName, shape: p.shape })),
    })),
    /** The values: `run:parameters` pushes move it in the browser with the same applyControl. */
    state,
    layers: { generator: resolved.layers.generator.map(layerInfo), discriminator: resolved.layers.discriminator.map(layerInfo) },
    networks: resolved.spec.networks.map((n) => ({ name: n.name, input: n.input, parts: n.parts, trains: n.trains, loss: n.loss })),
  };
}
