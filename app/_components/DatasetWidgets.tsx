"use client";
/**
 * The data set pages' widgets: images per label as a bar strip, a progress bar, a data set's card in the list, and
 * the list of imports under way (everyone in the session sees them) with what each is doing.
 */
import Link from "next/link";
import type { DatasetProgressPush } from "../../lib/protocol/socket";
import { bytes, timeAgo } from "../_lib/format";
import type { RouterOutputs } from "../_lib/trpc";

type DatasetView = RouterOutputs["datasets"]["list"][number];

const PHASES: Record<DatasetProgressPush["phase"] | "uploading", string> = {
  uploading: "Uploading",
  receiving: "Received",
  reading: "Reading the archive",
  decoding: "Decoding images",
  storing: "Storing",
  done: "Imported",
  failed: "Failed",
};

/** Images per label as a strip of bars (height ∝ count), with the label under each. */
export function PerLabelBars({
  perLabel,
  labelNames,
  height = 48,
  testId,
}: {
  perLabel: number[];
  labelNames?: string[] | null;
  height?: number;
  testId?: string;
}) {
  const max = Math.max(1, ...perLabel);
  return (
    <div
      className="flex items-end gap-0.5"
      style={{ height: height + 16 }}
      data-testid={testId}
      role="img"
      aria-label={`Images per label: ${perLabel.map((n, i) => `${labelNames?.[i] ?? i}: ${n}`).join(", ")}`}
    >
      {perLabel.map((n, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: one bar per label: the index is the label number
        <div key={i} className="flex min-w-0 flex-1 flex-col items-center gap-0.5" title={`${labelNames?.[i] ?? `label ${i}`}: ${n.toLocaleString()} images`}>
          <div className="w-full rounded-sm bg-sky-500/70" style={{ height: Math.max(1, Math.round((n / max) * height)) }} />
          <span className="max-w-full truncate text-[10px] leading-3 text-slate-500">{labelNames?.[i] ?? i}</span>
        </div>
      ))}
    </div>
  );
}

export function ProgressBar({ label, done, total, tone = "sky" }: { label: string; done: number; total: number; tone?: "sky" | "rose" | "emerald" }) {
  const pct = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
  const colors = { sky: "bg-sky-500", rose: "bg-rose-500", emerald: "bg-emerald-500" };
  return (
    <div className="flex flex-col gap-1">
      <div className="flex justify-between text-xs text-slate-300">
        <span>{label}</span>
        <span className="tabular-nums">{total > 0 ? `${pct}%` : ""}</span>
      </div>
      <div
        className="h-2 overflow-hidden rounded-full bg-slate-800"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className={`h-full ${colors[tone]} transition-[width] duration-200`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** An import as the progress list shows it, from the session's progress pushes. */
export interface ImportState {
  importId: string;
  name: string;
  userName: string;
  phase: DatasetProgressPush["phase"] | "uploading";
  done: number;
  total: number;
  error?: DatasetProgressPush["error"];
}

function describeProgress(p: ImportState): string {
  if (p.phase === "uploading") return `${PHASES.uploading} ${bytes(p.done)} of ${bytes(p.total)}`;
  if (p.phase === "decoding") return `${PHASES.decoding}: ${p.done.toLocaleString()} of ${p.total.toLocaleString()}`;
  if (p.phase === "done") return `${PHASES.done}: ${p.total.toLocaleString()} images`;
  return PHASES[p.phase];
}

/** The imports under way in the session, one progress bar each (green when done, red with the error when failed). */
export function ImportProgressList({ imports }: { imports: ImportState[] }) {
  return (
    <ul className="flex flex-col gap-3" data-testid="import-progress">
      {imports.map((p) => (
        <li key={p.importId} className="flex flex-col gap-1">
          <ProgressBar
            label={`${p.name} (${p.userName}) — ${describeProgress(p)}`}
            done={p.phase === "done" ? 1 : p.phase === "failed" ? 0 : p.done}
            total={p.phase === "done" ? 1 : p.total}
            tone={p.phase === "failed" ? "rose" : p.phase === "done" ? "emerald" : "sky"}
          />
          {p.error ? <p className="text-xs text-rose-300">{p.error.message}</p> : null}
        </li>
      ))}
    </ul>
  );
}

/** A data set in the session's list: name, size, who imported it, how many runs use it, its images per label. */
export function DatasetCard({ sessionId, d }: { sessionId: string; d: DatasetView }) {
  return (
    <li className="rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800" data-testid="dataset-card">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <Link href={`/sessions/${sessionId}/datasets/${d.id}`} className="font-semibold hover:underline">
          {d.name}
        </Link>
        <span className="text-xs text-slate-400">
          {d.count.toLocaleString()} images · {d.imageShape.join("×")} · {d.numLabels} labels
        </span>
      </div>
      <p className="mb-2 text-xs text-slate-500">
        {d.bundled ? "Comes with GAN Studio" : `Imported by ${d.importedBy ?? "someone"} ${d.importedAt ? timeAgo(d.importedAt) : ""}`} · used by {d.runCount}{" "}
        run{d.runCount === 1 ? "" : "s"}
      </p>
      <PerLabelBars perLabel={d.perLabel} labelNames={d.labelNames} height={32} />
    </li>
  );
}
