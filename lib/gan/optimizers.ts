/**
 * NNC's solvers (Adam, Sgd, Momentum), one per training network, with per-parameter LRateMultipliers.
 * State (Adam's moments, momentum's velocity, the step count) is kept per parameter so a checkpoint can save and
 * restore it exactly, and the settings (α, β…) can change between iterations.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Optimizer } from "./config";
import { newVariable, type Parameter } from "./params";

/** Names of the state slots per optimizer type, in checkpoint order. */
export const STATE_SLOTS: Record<Optimizer["type"], readonly string[]> = {
  Adam: ["m", "v"],
  Sgd: [],
  Momentum: ["velocity"],
};

export class Solver {
  /** Updates applied so far (Adam's t). */
  step = 0;
  /** State per parameter key, per slot. */
  readonly state = new Map<string, Map<string, tf.Variable>>();

  constructor(public settings: Optimizer) {}

  private slot(p: Parameter, name: string): tf.Variable {
    let slots = this.state.get(p.key);
    if (!slots) {
      slots = new Map();
      this.state.set(p.key, slots);
    }
    let v = slots.get(name);
    if (!v) {
      v = newVariable(null, p.def.shape, false);
      slots.set(name, v);
    }
    return v;
  }

  /** Changes the solver's settings; a change of type resets its state. */
  configure(settings: Optimizer): void {
    if (settings.type !== this.settings.type) this.reset();
    this.settings = settings;
  }

  /**
   * Applies one update: parameter -= α · LRateMultiplier · direction(grad). Parameters with multiplier 0 must not
   * be passed (they are frozen and their gradients are not even computed).
   */
  apply(params: Parameter[], grads: tf.NamedTensorMap): void {
    this.step++;
    const s = this.settings;
    for (const p of params) {
      const g = grads[p.key];
      if (!g) continue;
      const lr = s.alpha * p.lrMultiplier;
      tf.tidy(() => {
        switch (s.type) {
          case "Sgd":
            p.variable.assign(tf.sub(p.variable, tf.mul(g, lr)));
            break;
          case "Momentum": {
            const v = this.slot(p, "velocity");
            const next = tf.sub(tf.mul(v, s.momentum), tf.mul(g, lr));
            v.assign(next);
            p.variable.assign(tf.add(p.variable, next));
            break;
          }
          case "Adam": {
            const m = this.slot(p, "m");
            const v = this.slot(p, "v");
            const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
            const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
            m.assign(m1);
            v.assign(v1);
            // NNC / Kingma & Ba: α_t = α·√(1−β2^t)/(1−β1^t); θ −= α_t · m / (√v + ε)
            const at = (lr * Math.sqrt(1 - s.beta2 ** this.step)) / (1 - s.beta1 ** this.step);
            p.variable.assign(tf.sub(p.variable, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), s.eps)), at)));
            break;
          }
        }
      });
    }
  }

  /** State as named arrays, for a checkpoint: `${paramKey}/${slot}`. */
  async read(): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
    const out = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [key, slots] of this.state) {
      for (const [slot, v] of slots) out.set(`${key}/${slot}`, { shape: v.shape, values: (await v.data()) as Float32Array });
    }
    return out;
  }

  /** Restores state written by {@link read}. */
  write(step: number, values: Map<string, { shape: number[]; values: Float32Array }>): void {
    this.reset();
    this.step = step;
    for (const [name, { shape, values: data }] of values) {
      const cut = name.lastIndexOf("/");
      const key = name.slice(0, cut);
      const slot = name.slice(cut + 1);
      let slots = this.state.get(key);
      if (!slots) {
        slots = new Map();
        this.state.set(key, slots);
      }
      slots.set(slot, newVariable(data, shape, false));
    }
  }

  reset(): void {
    for (const slots of this.state.values()) for (const v of slots.values()) v.dispose();
    this.state.clear();
    this.step = 0;
  }

  dispose(): void {
    this.reset();
  }
}
