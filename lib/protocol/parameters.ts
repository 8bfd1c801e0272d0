/**
 * A run's live parameter state (every LRateMultiplier by ParameterScope, each training network's solver and α, who
 * changed each last) and the one function that moves it: `applyControl`. Pure and TensorFlow-free, so both sides
 * run the same code: the server's read model (server/runs/parameters.ts) applies each change its trainer reports
 * and, after a restart, replays the run's control.* activity entries with it; the browser applies each
 * `run:parameters` push with it to its cached `runs.parameters` (app/_components/SessionView.tsx).
 */
import { z } from "zod";
import type { ParameterName, TrainingNetworkName } from "../gan/vocabulary";
import { type ActivityChange, LrMultiplierDetailSchema, type OptimizerChoice, OptimizerDetailSchema, type UnknownActivity } from "./activity";

/** A control as the trainer reports it once it took effect: an LRateMultiplier, or a network's solver. */
export const ControlChangeSchema = z.discriminatedUnion("kind", [
  LrMultiplierDetailSchema.extend({ kind: z.literal("lrMultiplier") }),
  OptimizerDetailSchema.extend({ kind: z.literal("optimizer") }),
]);
export type ControlChange = z.infer<typeof ControlChangeSchema>;

/** Who made a change, at which iteration it took effect, when (ISO: the activity entry's createdAt). */
export interface ChangedBy {
  userName: string | null;
  iteration: number | null;
  at: string;
}

/** A change that took effect, with who made it: what `applyControl` takes and what `run:parameters` carries. */
export interface AppliedControl extends ChangedBy {
  change: ControlChange;
}

/** The `run:parameters` push: one change to one run's parameter state. */
export interface ParametersPush extends AppliedControl {
  runId: string;
}

/** A run's parameter state. Only the run's own parameters and training networks have entries. */
export interface ParameterState {
  /** LRateMultiplier by ParameterScope and parameter (W, b, beta, gamma: the trained ones of that scope). */
  lrMultipliers: Record<string, Partial<Record<ParameterName, number>>>;
  /** Each training network's solver and α. */
  optimizers: Partial<Record<TrainingNetworkName, OptimizerChoice>>;
  /** The last change of each value (absent: never changed since the Config). */
  lastChange: {
    lrMultipliers: Record<string, Partial<Record<ParameterName, ChangedBy>>>;
    optimizers: Partial<Record<TrainingNetworkName, ChangedBy>>;
  };
}

/**
 * The state after `applied`: the changed value set to what it became, with who changed it. A change to a parameter
 * or network the state does not hold changes nothing (the same state comes back). Never mutates `state`.
 */
export function applyControl(state: ParameterState, applied: AppliedControl): ParameterState {
  const { change } = applied;
  const by: ChangedBy = { userName: applied.userName, iteration: applied.iteration, at: applied.at };
  if (change.kind === "lrMultiplier") {
    const scope = state.lrMultipliers[change.scope];
    if (scope?.[change.param] === undefined) return state;
    return {
      ...state,
      lrMultipliers: { ...state.lrMultipliers, [change.scope]: { ...scope, [change.param]: change.to } },
      lastChange: {
        ...state.lastChange,
        lrMultipliers: { ...state.lastChange.lrMultipliers, [change.scope]: { ...state.lastChange.lrMultipliers[change.scope], [change.param]: by } },
      },
    };
  }
  if (!state.optimizers[change.network]) return state;
  return {
    ...state,
    optimizers: { ...state.optimizers, [change.network]: { type: change.to.type, alpha: change.to.alpha } },
    lastChange: { ...state.lastChange, optimizers: { ...state.lastChange.optimizers, [change.network]: by } },
  };
}

/** A control.* activity entry. */
export type ControlActivity = Extract<ActivityChange, { kind: (typeof CONTROL_KINDS)[number] }>;

/** The activity entry a control is recorded as (control.lrMultiplier / control.optimizer). */
export function controlActivity(change: ControlChange): ControlActivity {
  if (change.kind === "lrMultiplier") {
    const { kind: _, ...detail } = change;
    return { kind: "control.lrMultiplier", detail };
  }
  const { kind: _, ...detail } = change;
  return { kind: "control.optimizer", detail };
}

/** The control an activity entry records, or null for any other kind: how a restart replays a run's controls. */
export function controlOfActivity(entry: ActivityChange | UnknownActivity): ControlChange | null {
  switch (entry.kind) {
    case "control.lrMultiplier":
      return { kind: "lrMultiplier", ...entry.detail };
    case "control.optimizer":
      return { kind: "optimizer", ...entry.detail };
    default:
      return null;
  }
}

/** The kinds that change a run's parameter state (what a rebuild after a restart reads). */
export const CONTROL_KINDS = ["control.lrMultiplier", "control.optimizer"] as const;
