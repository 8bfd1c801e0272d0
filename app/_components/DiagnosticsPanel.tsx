"use client";
/**
 * The run's per-epoch diagnostics (docs/diagnostics.md): small uPlot charts over epochs, one per group of metrics,
 * each with its latest values beside the title and a one-line explanation (hover the title; screen readers read
 * it as the chart's description). Runs started with diagnostics off have none: the panel says so.
 */
import "uplot/dist/uPlot.min.css";
import type uPlot from "uplot";
import { useEffect, useId, useRef } from "react";
import type { ActivityChange, ActivityEntry, UnknownActivity } from "../../lib/protocol/activity";
import type { DiagnosticsPush } from "../../lib/protocol/socket";
import { followWrapperWidth, plotWidth } from "../_lib/uplot";

interface Line {
  label: string;
  stroke: string;
  value: (m: Record<string, number>) => number | undefined;
  /** The latest value as text (defaults to 3 significant digits). */
  show?: (m: Record<string, number>) => string;
  dash?: number[];
}

interface Group {
  key: string;
  title: string;
  explain: string;
  lines: Line[];
  /** A fixed y range (shares), else uPlot's auto range. */
  range?: [number, number];
}

const labelsOf = (m: Record<string, number>) => (m.numLabels && m.numLabels > 0 ? m.numLabels : 10);
const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(1)}%`);
const fmt = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? "—" : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(digits));

const GROUPS: Group[] = [
  {
    key: "labelAccuracy",
    title: "Label accuracy",
    explain:
      "Share of generated images the evaluator reads as the label asked for (healthy → the evaluator's own accuracy); unrecognized: share read as “not a digit” (healthy → 0).",
    range: [0, 1],
    lines: [
      { label: "accuracy", stroke: "#38bdf8", value: (m) => m.labelAccuracy, show: (m) => pct(m.labelAccuracy) },
      { label: "unrecognized", stroke: "#f59e0b", value: (m) => m.unrecognized, show: (m) => pct(m.unrecognized), dash: [4, 3] },
    ],
  },
  {
    key: "coverage",
    title: "Coverage & class entropy",
    explain:
      "Coverage: classes the evaluator finds among the generated images, of all labels. Entropy: how evenly they spread over the classes, of its maximum log2(labels). Both fall when the generator collapses to a few classes.",
    range: [0, 1],
    lines: [
      {
        label: "coverage",
        stroke: "#34d399",
        value: (m) => (m.coverage === undefined ? undefined : m.coverage / labelsOf(m)),
        show: (m) => (m.coverage === undefined ? "—" : `${m.coverage}/${labelsOf(m)}`),
      },
      {
        label: "entropy",
        stroke: "#a78bfa",
        value: (m) => (m.classEntropy === undefined ? undefined : m.classEntropy / Math.log2(labelsOf(m))),
        show: (m) => (m.classEntropy === undefined ? "—" : `${m.classEntropy.toFixed(2)} bits`),
        dash: [4, 3],
      },
    ],
  },
  {
    key: "frechetDistance",
    title: "Fréchet distance",
    explain: "Distance between the evaluator's features of generated and real images (FID's formula): smaller is better.",
    lines: [{ label: "FD", stroke: "#f472b6", value: (m) => m.frechetDistance, show: (m) => fmt(m.frechetDistance) }],
  },
  {
    key: "precisionRecall",
    title: "Precision & recall",
    explain:
      "Precision: share of generated images that look like real ones (realism). Recall: share of real images the generator covers (variety). Both high is healthy.",
    range: [0, 1],
    lines: [
      { label: "precision", stroke: "#38bdf8", value: (m) => m.precision, show: (m) => fmt(m.precision) },
      { label: "recall", stroke: "#34d399", value: (m) => m.recall, show: (m) => fmt(m.recall), dash: [4, 3] },
    ],
  },
  {
    key: "diversity",
    title: "Diversity",
    explain:
      "How varied the generated images of a label are, relative to real images of that label (≈ 1 healthy, ≈ 0 when every z gives the same image): the mean over labels, and the lowest label.",
    lines: [
      { label: "mean", stroke: "#34d399", value: (m) => m.diversity, show: (m) => fmt(m.diversity) },
      { label: "lowest label", stroke: "#f59e0b", value: (m) => m.minClassDiversity, show: (m) => fmt(m.minClassDiversity), dash: [4, 3] },
    ],
  },
  {
    key: "dx",
    title: "D(x) real vs fake",
    explain:
      "The discriminator's mean output on real and on generated images: both away from 0 and 1 is healthy; fake → 0 means the discriminator won and the generator's gradient vanishes.",
    range: [0, 1],
    lines: [
      { label: "real", stroke: "#34d399", value: (m) => m.dRealMean, show: (m) => fmt(m.dRealMean) },
      { label: "fake", stroke: "#f472b6", value: (m) => m.dFakeMean, show: (m) => fmt(m.dFakeMean), dash: [4, 3] },
    ],
  },
];

const AXIS = {
  stroke: "#94a3b8",
  grid: { stroke: "#1e293b", width: 1 },
  ticks: { stroke: "#334155", width: 1, size: 4 },
  font: "10px ui-sans-serif, system-ui, sans-serif",
};

function MiniChart({ group, diagnostics, height }: { group: Group; diagnostics: DiagnosticsPush[]; height: number }) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const dataRef = useRef<uPlot.AlignedData>([[]]);
  dataRef.current = [
    diagnostics.map((d) => d.epoch),
    ...group.lines.map((l) =>
      diagnostics.map((d) => {
        const v = l.value(d.metrics);
        return v === undefined || !Number.isFinite(v) ? null : v;
      }),
    ),
  ] as uPlot.AlignedData;

  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    let disposed = false;
    let resize: ResizeObserver | null = null;
    void import("uplot").then(({ default: UPlot }) => {
      if (disposed) return;
      const range = group.range;
      const opts: uPlot.Options = {
        width: plotWidth(wrap, 160),
        height,
        padding: [6, 6, 0, 0],
        scales: {
          x: { time: false },
          y: range ? { range: (_u, min, max) => [Math.min(range[0], min ?? range[0]), Math.max(range[1], max ?? range[1])] } : { auto: true },
        },
        axes: [
          { ...AXIS, size: 22 },
          { ...AXIS, size: 38 },
        ],
        series: [
          { label: "epoch" },
          ...group.lines.map((l) => ({ label: l.label, stroke: l.stroke, width: 1.5, dash: l.dash, spanGaps: true, points: { show: true, size: 4 } })),
        ],
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      };
      const u = new UPlot(opts, dataRef.current, wrap);
      plotRef.current = u;
      resize = followWrapperWidth(u, wrap, 160, height);
    });
    return () => {
      disposed = true;
      resize?.disconnect();
      plotRef.current?.destroy();
      plotRef.current = null;
    };
  }, [group, height]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: diagnostics is the trigger: dataRef.current is rebuilt from it on each render, and the plot takes the new data when it changes
  useEffect(() => {
    plotRef.current?.setData(dataRef.current);
  }, [diagnostics]);

  return <div ref={wrapRef} className="diagnostics-chart w-full" />;
}

/**
 * Whether the session pauses its run when a collapse alarm fires: a switch for the owner, a line for everyone else.
 */
export function PauseOnCollapse({
  value,
  canChange,
  pending,
  onChange,
}: {
  value: boolean;
  canChange: boolean;
  pending: boolean;
  onChange: (v: boolean) => void;
}) {
  return canChange ? (
    <label className="flex items-center gap-2 text-xs font-normal normal-case tracking-normal text-slate-300">
      <input
        type="checkbox"
        checked={value}
        disabled={pending}
        onChange={(e) => onChange(e.target.checked)}
        className="h-4 w-4 accent-sky-500"
        data-testid="pause-on-collapse"
      />
      Pause the run on a collapse alarm
    </label>
  ) : (
    <span className="text-xs font-normal normal-case tracking-normal text-slate-500">{value ? "Pauses on a collapse alarm" : "Does not pause on alarms"}</span>
  );
}

export function DiagnosticsPanel({ diagnostics, height = 120 }: { diagnostics: DiagnosticsPush[]; height?: number }) {
  const baseId = useId();
  const latest = diagnostics.at(-1);
  if (!latest) {
    return (
      <p className="text-sm text-slate-500" data-testid="diagnostics-empty">
        Diagnostics appear after the first epoch; runs started with diagnostics off show none.
      </p>
    );
  }
  const m = latest.metrics;
  return (
    <div data-testid="diagnostics" data-epochs={diagnostics.length} className="flex flex-col gap-3">
      <p className="text-xs text-slate-500">
        Epoch {latest.epoch}
        {m.classifierAccuracy !== undefined ? (
          <span title="The evaluator's accuracy on real digits it never saw: how far to trust the other metrics.">
            {" "}
            · evaluator accuracy {pct(m.classifierAccuracy)}
          </span>
        ) : null}
      </p>
      <div className="grid gap-x-5 gap-y-4 sm:grid-cols-2 xl:grid-cols-3">
        {GROUPS.map((g) => {
          const titleId = `${baseId}-${g.key}-title`;
          const descId = `${baseId}-${g.key}-desc`;
          const summary = g.lines.map((l) => `${l.label} ${l.show ? l.show(m) : fmt(l.value(m))}`).join(", ");
          return (
            <figure
              key={g.key}
              className="m-0 flex min-w-0 flex-col gap-1"
              data-testid={`diagnostics-${g.key}`}
              aria-labelledby={titleId}
              aria-describedby={descId}
            >
              <figcaption className="flex flex-wrap items-baseline justify-between gap-x-2">
                <h3
                  id={titleId}
                  title={g.explain}
                  className="cursor-help text-xs font-semibold text-slate-300 underline decoration-slate-600 decoration-dotted underline-offset-2"
                >
                  {g.title}
                </h3>
                <span className="flex flex-wrap gap-x-2 text-xs tabular-nums text-slate-400">
                  {g.lines.map((l) => (
                    <span key={l.label} className="inline-flex items-center gap-1">
                      <span aria-hidden className="inline-block h-0.5 w-3" style={{ backgroundColor: l.stroke }} />
                      {l.label} <span className="text-slate-100">{l.show ? l.show(m) : fmt(l.value(m))}</span>
                    </span>
                  ))}
                </span>
              </figcaption>
              <p id={descId} className="sr-only">
                {g.explain}
              </p>
              <div
                role="img"
                aria-label={`${g.title} over ${diagnostics.length} epoch${diagnostics.length === 1 ? "" : "s"}; latest (epoch ${latest.epoch}): ${summary}`}
              >
                <MiniChart group={g} diagnostics={diagnostics} height={height} />
              </div>
            </figure>
          );
        })}
      </div>
    </div>
  );
}

export interface CollapseAlarm {
  /** Identifies this alarm, so a dismissed banner comes back only for a newer one. */
  key: string;
  epoch: number | null;
  messages: string[];
  /** true: the run pauses; false: it goes on; null: not known (the alarm came with the diagnostics alone). */
  pausing: boolean | null;
}

type AlarmActivity = Pick<ActivityEntry, "id" | "createdAt"> & (ActivityChange | UnknownActivity);
type AlarmEntry = AlarmActivity & { kind: "collapse.alarm" };

/**
 * The newest collapse alarm: the latest epoch's diagnostics when they carry alarms, else the newest
 * "collapse.alarm" activity entry that arrived live (its detail says whether the run pauses).
 */
export function latestCollapseAlarm(diagnostics: DiagnosticsPush[], activity: AlarmActivity[]): CollapseAlarm | null {
  const entries = activity
    .filter((a): a is AlarmEntry => a.kind === "collapse.alarm")
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  const entry = entries.at(-1);
  const fromEntry = entry
    ? (() => {
        const alarms = entry.detail.alarms;
        const epochs = alarms.map((a) => a.epoch);
        const epoch = epochs.length ? Math.max(...epochs) : null;
        return { entry, alarms, epoch };
      })()
    : null;
  const latest = diagnostics.at(-1);
  if (latest && latest.alarms.length > 0 && (!fromEntry || fromEntry.epoch === null || fromEntry.epoch <= latest.epoch)) {
    const sameEpoch = fromEntry && fromEntry.epoch === latest.epoch;
    return {
      key: `epoch-${latest.runId}-${latest.epoch}`,
      epoch: latest.epoch,
      messages: latest.alarms.map((a) => a.message || a.rule),
      pausing: sameEpoch ? Boolean(fromEntry.entry.detail.pausing) : null,
    };
  }
  // An entry that arrived live shows even when later epochs carried no new alarm (a rule fires once per episode).
  if (fromEntry) {
    const messages = fromEntry.alarms.map((a) => a.message).filter((x): x is string => !!x);
    return {
      key: fromEntry.epoch !== null && latest?.runId ? `epoch-${latest.runId}-${fromEntry.epoch}` : `activity-${fromEntry.entry.id}`,
      epoch: fromEntry.epoch,
      messages: messages.length ? messages : ["mode collapse suspected"],
      pausing: Boolean(fromEntry.entry.detail.pausing),
    };
  }
  return null;
}

export function CollapseAlarmBanner({ alarm, onDismiss }: { alarm: CollapseAlarm; onDismiss: () => void }) {
  return (
    <div
      role="alert"
      data-testid="collapse-alarm"
      className="flex items-start gap-3 rounded-lg bg-gradient-to-r from-rose-500/20 to-amber-500/15 px-3 py-2.5 text-sm text-rose-50 ring-1 ring-rose-500/50"
    >
      <span aria-hidden className="mt-0.5 text-lg leading-none text-amber-300">
        ⚠
      </span>
      <div className="min-w-0 flex-1">
        <p className="font-semibold">
          Mode collapse suspected{alarm.epoch !== null ? ` at epoch ${alarm.epoch}` : ""}
          {alarm.pausing === true ? " — the run was paused." : alarm.pausing === false ? " — the run goes on." : "."}
        </p>
        <ul className="mt-1 list-disc pl-5 text-rose-100/90">
          {alarm.messages.map((msg, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the messages of one alarm are a list rebuilt whole and may repeat a text: the position is the identity
            <li key={i}>{msg}</li>
          ))}
        </ul>
      </div>
      <button
        type="button"
        onClick={onDismiss}
        aria-label="Dismiss the collapse alarm"
        className="inline-flex h-8 w-8 shrink-0 items-center justify-center rounded-md text-rose-100 hover:bg-rose-500/20 focus-visible:outline focus-visible:outline-2 focus-visible:outline-amber-300"
      >
        <span aria-hidden>✕</span>
      </button>
    </div>
  );
}
