/**
 * A run's change log, to reproduce a result: every control change in order — who, what, old → new, the iteration it
 * took effect at, when — from the run's activity entries (LRateMultipliers and freezes, solvers and α, pause,
 * resume, stop, starts and resumes from a checkpoint). Served as JSON and as CSV (server/app.ts). Runs have no
 * ancestors yet; when forks come (issue 15), a fork's log starts with its parent's up to the fork point.
 */
import type { ActivityRecord } from "../db/activity";

export interface ChangeRow {
  /** ISO time the change was recorded. */
  at: string;
  /** The iteration it took effect at (null: not tied to one, e.g. a start). */
  iteration: number | null;
  /** Who made it (null: the server itself, or an account that is gone). */
  who: string | null;
  /** The change's kind, as the activity feed names it (control.lrMultiplier, run.pause, …). */
  kind: string;
  /** What changed, in words: "LRateMultiplier Deconvolution/W", "Generator's solver", "paused". */
  what: string;
  from: string | null;
  to: string | null;
}

/** The activity kinds a change log holds. */
export const CHANGE_KINDS = [
  "run.started",
  "run.resumedFromCheckpoint",
  "run.pause",
  "run.resume",
  "run.stop",
  "control.lrMultiplier",
  "control.optimizer",
] as const;

const solver = (o: { type: string; alpha: number }) => `${o.type} α ${o.alpha}`;

/** One activity entry as a row; null for entries of other kinds (or of an unknown shape). */
export function changeRow(e: ActivityRecord): ChangeRow | null {
  const base = { at: e.createdAt.toISOString(), iteration: e.iteration, who: e.userName, kind: e.kind };
  switch (e.kind) {
    case "control.lrMultiplier":
      return { ...base, what: `LRateMultiplier ${e.detail.scope}/${e.detail.param}`, from: String(e.detail.from), to: String(e.detail.to) };
    case "control.optimizer":
      return { ...base, what: `${e.detail.network}'s solver`, from: solver(e.detail.from), to: solver(e.detail.to) };
    case "run.pause":
      return { ...base, what: "paused", from: "running", to: "paused" };
    case "run.resume":
      return { ...base, what: "resumed", from: "paused", to: "running" };
    case "run.stop":
      return { ...base, what: "stopped", from: null, to: "stopped" };
    case "run.started":
      return { ...base, what: e.detail.fromQueue ? "started (from the queue)" : "started", from: null, to: "running" };
    case "run.resumedFromCheckpoint":
      return { ...base, what: `resumed from the checkpoint of iteration ${e.detail.checkpointIteration}`, from: null, to: "running" };
    default:
      return null;
  }
}

export const CHANGE_COLUMNS = ["at", "iteration", "who", "kind", "what", "from", "to"] as const satisfies readonly (keyof ChangeRow)[];

/**
 * RFC 4180 CSV (CRLF, fields quoted when they hold a comma, a quote or a line break). A text a person typed (a
 * name) that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe.
 */
export function changeLogCsv(rows: readonly ChangeRow[]): string {
  const cell = (v: string | number | null, typed: boolean) => {
    if (v === null) return "";
    let s = String(v);
    if (typed && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CHANGE_COLUMNS.join(",")];
  for (const r of rows) lines.push(CHANGE_COLUMNS.map((c) => cell(r[c], c === "who")).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
