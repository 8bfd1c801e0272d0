/**
 * The parameter store: every parameter of every network, keyed by ParameterScope and name, with its
 * LRateMultiplier. The four networks read their weights from here, so they share them as NNC's networks do.
 */
import * as tf from "@tensorflow/tfjs-core";
import { lrMultiplierRangeMessage } from "./config";
import { Rng, Stream, deriveSeed } from "./rng";
import type { ParameterDef, ResolvedSpec } from "./spec";
import { LR_MULTIPLIER, PARAMETER_NAMES, type ParameterName } from "./vocabulary";

export type ParamName = ParameterDef["name"];
/** The parameters with an LRateMultiplier (the vocabulary's PARAMETER_NAMES); mean and var are statistics. */
export type TrainableParamName = ParameterName;
export const TRAINABLE_PARAMS: readonly TrainableParamName[] = PARAMETER_NAMES;

export const paramKey = (scope: string, name: string) => `${scope}/${name}`;

/** A variable holding a copy of `values`; the initial tensor is disposed (a variable outlives every tidy). */
export function newVariable(values: Float32Array | null, shape: number[], trainable: boolean, name?: string): tf.Variable {
  return tf.tidy(() => tf.variable(values ? tf.tensor(values, shape, "float32") : tf.zeros(shape), trainable, name));
}

export interface Parameter {
  def: ParameterDef;
  key: string;
  variable: tf.Variable;
  /** LRateMultiplier: scales this parameter's learning rate; 0 freezes it. */
  lrMultiplier: number;
}

export class UnknownParameterError extends Error {
  constructor(scope: string, name: string, known: string[]) {
    super(`unknown parameter ${scope}/${name}; the ParameterScopes are ${known.join(", ")}`);
    this.name = "UnknownParameterError";
  }
}

export class ParameterStore {
  readonly params = new Map<string, Parameter>();

  /** Creates every parameter of a spec, initialised from the seed (Glorot-normal W, zero b/beta/mean, one gamma/var). */
  constructor(
    readonly resolved: ResolvedSpec,
    seed: number,
  ) {
    resolved.parameters.forEach((def, i) => {
      const size = def.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      if (def.name === "W") {
        const [fanIn, fanOut] = def.fan ?? [size, size];
        new Rng(deriveSeed(seed, Stream.init, i)).normal(values, Math.sqrt(2 / (fanIn + fanOut)));
      } else if (def.name === "gamma" || def.name === "var") {
        values.fill(1);
      }
      const key = paramKey(def.scope, def.name);
      // Unnamed: TensorFlow.js variable names are global, and two runs may live in one process.
      const variable = newVariable(values, def.shape, def.trainable);
      this.params.set(key, { def, key, variable, lrMultiplier: def.trainable ? 1 : 0 });
    });
  }

  get(scope: string, name: ParamName): Parameter {
    const p = this.params.get(paramKey(scope, name));
    if (!p) throw new UnknownParameterError(scope, name, this.scopeNames());
    return p;
  }

  variable(scope: string, name: ParamName): tf.Variable {
    return this.get(scope, name).variable;
  }

  scopeNames(): string[] {
    return [...new Set([...this.params.values()].map((p) => p.def.scope))];
  }

  /** The trainable parameter an LRateMultiplier change names, or the error a user should see. */
  checkLrMultiplier(scope: string, name: string, value: number): Parameter {
    if (!(TRAINABLE_PARAMS as readonly string[]).includes(name)) {
      throw new UnknownParameterError(scope, name, this.scopeNames());
    }
    if (!Number.isFinite(value) || value < LR_MULTIPLIER.min || value > LR_MULTIPLIER.max) {
      throw new RangeError(lrMultiplierRangeMessage(value));
    }
    return this.get(scope, name as ParamName);
  }

  /** Sets a trainable parameter's LRateMultiplier and returns the old value. */
  setLrMultiplier(scope: string, name: string, value: number): number {
    const p = this.checkLrMultiplier(scope, name, value);
    const old = p.lrMultiplier;
    p.lrMultiplier = value;
    return old;
  }

  /** Every trainable parameter's multiplier: { scope: { W: 1, b: 1 } }. */
  lrMultipliers(): Record<string, Partial<Record<TrainableParamName, number>>> {
    const out: Record<string, Partial<Record<TrainableParamName, number>>> = {};
    for (const p of this.params.values()) {
      if (!p.def.trainable) continue;
      out[p.def.scope] ??= {};
      out[p.def.scope]![p.def.name as TrainableParamName] = p.lrMultiplier;
    }
    return out;
  }

  /** Copies every parameter's values to plain arrays (for checkpoints and snapshots). */
  async read(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [key, p] of this.params) out.set(key, (await p.variable.data()) as Float32Array);
    return out;
  }

  /** Overwrites parameters from arrays; every parameter must be present with its exact size. */
  write(values: Map<string, Float32Array>): void {
    for (const [key, p] of this.params) {
      const v = values.get(key);
      const size = p.def.shape.reduce((a, b) => a * b, 1);
      if (!v) throw new Error(`checkpoint has no values for parameter ${key}`);
      if (v.length !== size) throw new Error(`checkpoint's ${key} has ${v.length} values, the spec needs ${size} (${p.def.shape.join("×")})`);
      tf.tidy(() => p.variable.assign(tf.tensor(v, p.def.shape, "float32")));
    }
  }

  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}
