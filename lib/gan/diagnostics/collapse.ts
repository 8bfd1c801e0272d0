/**
 * The collapse alarm: plain rules over each epoch's metrics. A rule holds when its metric is under its
 * threshold; it raises an alarm when it has held for `patience` consecutive evaluated epochs (so one noisy
 * epoch does not), once per streak: it can raise again only after an epoch where it did not hold.
 *
 * Pure TypeScript (no tf, no Node), so the browser may replay a run's metrics through it. Its only state is
 * each rule's current streak: after a restart, feed it the run's past metrics (in epoch order) to rebuild it.
 */

/** The metrics the rules read (a subset of the diagnostics' metrics). */
export interface CollapseInput {
  /** Mean per-label diversity ratio (generated / real). */
  diversity: number;
  /** The lowest per-label diversity ratio, and its label. */
  minClassDiversity: number;
  minDiversityLabel: number;
  /** Classes the evaluator finds among the generated images, out of numLabels. */
  coverage: number;
  numLabels: number;
  /** Mean D(x) over the fake images (after the discriminator's Sigmoid). */
  dFakeMean: number;
}

export type CollapseRuleName = "diversity" | "classDiversity" | "coverage" | "dFake";

export interface CollapseRule {
  name: CollapseRuleName;
  /** The metric compared (a key of CollapseInput). */
  metric: "diversity" | "minClassDiversity" | "coverage" | "dFakeMean";
  /** The rule holds when metric < threshold. For `coverage`, the threshold is numLabels (all classes) unless set. */
  threshold: number;
  /** Consecutive epochs the rule must hold to raise an alarm. */
  patience: number;
  /** What it means, for people. */
  meaning: string;
}

export interface CollapseRules {
  /** Evaluated epochs before this one (inclusive) never count: early epochs of a healthy run look collapsed. */
  warmupEpochs: number;
  rules: CollapseRule[];
}

/** The documented default rules (docs/diagnostics.md). */
export const DEFAULT_COLLAPSE_RULES: CollapseRules = {
  warmupEpochs: 0,
  rules: [
    {
      name: "diversity",
      metric: "diversity",
      threshold: 0.5,
      patience: 2,
      meaning: "generated images of a label are under half as varied as real images of that label (mean over labels)",
    },
    {
      name: "classDiversity",
      metric: "minClassDiversity",
      threshold: 0.25,
      patience: 2,
      meaning: "one label's generated images are under a quarter as varied as its real images (that label collapsed)",
    },
    {
      name: "coverage",
      metric: "coverage",
      threshold: Number.NaN, // NaN: numLabels, i.e. the alarm holds when any class is missing
      patience: 2,
      meaning: "the evaluator finds fewer classes among the generated images than there are labels",
    },
    {
      name: "dFake",
      metric: "dFakeMean",
      threshold: 0.05,
      patience: 3,
      meaning: "the discriminator rejects nearly every fake (mean D(fake) under 0.05): the generator's gradient vanishes",
    },
  ],
};

export interface CollapseAlarm {
  rule: CollapseRuleName;
  /** The epoch it was raised at. */
  epoch: number;
  message: string;
  evidence: {
    metric: CollapseRule["metric"];
    comparison: "<";
    threshold: number;
    patience: number;
    /** The epochs of the streak, oldest first, and the metric's value at each. */
    epochs: number[];
    values: number[];
    /** For classDiversity: the label with the lowest diversity at the last epoch. */
    label?: number;
  };
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(3));

/** A detector's streaks, as a checkpoint keeps them. */
export type CollapseDetectorState = { rule: CollapseRuleName; epochs: number[]; values: number[]; raised: boolean }[];

export class CollapseDetector {
  readonly config: CollapseRules;
  private readonly streaks = new Map<CollapseRuleName, { epochs: number[]; values: number[]; raised: boolean }>();

  constructor(config: Partial<CollapseRules> = {}) {
    this.config = { ...DEFAULT_COLLAPSE_RULES, ...config };
    for (const r of this.config.rules) {
      if (!(r.patience >= 1 && Number.isInteger(r.patience)))
        throw new RangeError(`collapse rule ${r.name}: patience must be an integer ≥ 1, got ${r.patience}`);
    }
  }

  private threshold(rule: CollapseRule, m: CollapseInput): number {
    return rule.metric === "coverage" && Number.isNaN(rule.threshold) ? m.numLabels : rule.threshold;
  }

  /**
   * Feeds one epoch's metrics (epochs in increasing order) and returns the alarms raised at this epoch (empty
   * when none). A metric that is not a finite number breaks its rule's streak.
   */
  observe(metrics: CollapseInput, epoch: number): CollapseAlarm[] {
    const alarms: CollapseAlarm[] = [];
    if (epoch <= this.config.warmupEpochs) return alarms;
    for (const rule of this.config.rules) {
      const value = metrics[rule.metric];
      const threshold = this.threshold(rule, metrics);
      const holds = Number.isFinite(value) && value < threshold;
      if (!holds) {
        this.streaks.delete(rule.name);
        continue;
      }
      const streak = this.streaks.get(rule.name) ?? { epochs: [], values: [], raised: false };
      streak.epochs.push(epoch);
      streak.values.push(value);
      if (streak.epochs.length > rule.patience) {
        streak.epochs.shift();
        streak.values.shift();
      }
      this.streaks.set(rule.name, streak);
      if (!streak.raised && streak.epochs.length >= rule.patience) {
        streak.raised = true;
        const label = rule.name === "classDiversity" ? metrics.minDiversityLabel : undefined;
        alarms.push({
          rule: rule.name,
          epoch,
          message:
            `${rule.metric}${label !== undefined ? ` (label ${label})` : ""} below ${fmt(threshold)} for ${rule.patience} epoch${rule.patience > 1 ? "s" : ""} ` +
            `(${streak.values.map(fmt).join(", ")}): ${rule.meaning}`,
          evidence: {
            metric: rule.metric,
            comparison: "<",
            threshold,
            patience: rule.patience,
            epochs: [...streak.epochs],
            values: [...streak.values],
            ...(label !== undefined ? { label } : {}),
          },
        });
      }
    }
    return alarms;
  }

  /** Rules whose alarm is raised and still holds (their streak has not been broken since). */
  active(): CollapseRuleName[] {
    return [...this.streaks].filter(([, s]) => s.raised).map(([name]) => name);
  }

  /** The streaks so far, to keep in a checkpoint: a resumed run continues them instead of starting over. */
  state(): CollapseDetectorState {
    return [...this.streaks].map(([rule, s]) => ({ rule, epochs: [...s.epochs], values: [...s.values], raised: s.raised }));
  }

  /** Continues from a saved state (rules it does not know are ignored). */
  restore(state: CollapseDetectorState): void {
    this.streaks.clear();
    const known = new Set(this.config.rules.map((r) => r.name));
    for (const s of state) {
      if (known.has(s.rule)) this.streaks.set(s.rule, { epochs: [...s.epochs], values: [...s.values], raised: s.raised });
    }
  }

  /** Forgets every streak (e.g. after the user changed the run and wants fresh evidence). */
  reset(): void {
    this.streaks.clear();
  }
}
