/** Small formatting helpers shared by the pages. Dates arrive as ISO strings (no transformer on the wire). */
import type { ActivityChange, ActivityKind, ActivityMeta, UnknownActivity } from "../../lib/protocol/activity";

export function toDate(value: Date | string | number): Date {
  return value instanceof Date ? value : new Date(value);
}

export function timeAgo(value: Date | string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - toDate(value).getTime()) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return toDate(value).toLocaleDateString();
}

export function clockTime(value: Date | string): string {
  return toDate(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0]![0]! + parts[parts.length - 1]![0]! : (parts[0] ?? "?").slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue per user, so the same person has the same colour everywhere. */
export function hueOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) % 360;
  return h;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return "—";
  return Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(digits);
}

/** One activity entry in words: who did what (each kind's detail typed: lib/protocol/activity.ts). */
export function describeActivity(a: Pick<ActivityMeta, "userName" | "iteration"> & (ActivityChange | UnknownActivity)): string {
  const who = a.userName ?? "The trainer";
  const at = a.iteration !== null ? ` at iteration ${a.iteration}` : "";
  switch (a.kind) {
    case "run.created":
      return `${who} created run “${a.detail.name}”`;
    case "run.started":
      return `${who} started the run${a.detail.fromQueue ? " (from the trainer queue: a slot freed)" : ""}`;
    case "run.resumedFromCheckpoint":
      return `${who} resumed the run from its checkpoint (iteration ${a.detail.checkpointIteration})${a.detail.fromQueue ? ": a trainer slot freed" : ""}`;
    case "run.queued":
      return `${who} started the run: every trainer slot is busy, so it waits in the queue (${a.detail.ahead === 0 ? "next in line" : `${a.detail.ahead} ahead`})`;
    case "run.unqueued":
      return `${who} took the run out of the trainer queue`;
    case "run.pause":
      return `${who} paused the run${at}`;
    case "run.resume":
      return `${who} resumed the run${at}`;
    case "run.stop":
      return `${who} stopped the run${at}`;
    case "run.completed":
      return `The run completed${at}`;
    case "run.failed":
      return `The run failed${at}: ${a.detail.reason}`;
    case "run.error":
      return `Trainer error${at}: ${a.detail.message}`;
    case "control.lrMultiplier":
      return `${who} set ${a.detail.scope}/${a.detail.param} LRateMultiplier ${a.detail.from} → ${a.detail.to}${at}`;
    case "control.optimizer":
      return `${who} set ${a.detail.network} α ${a.detail.from.alpha} → ${a.detail.to.alpha}${at}`;
    case "collapse.alarm": {
      const what =
        a.detail.alarms
          .map((x) => x.message)
          .filter(Boolean)
          .join("; ") || "mode collapse suspected";
      return `Collapse alarm${at}: ${what}${a.detail.pausing ? " (the run pauses)" : ""}`;
    }
    case "member.joined":
      return `${who} joined as ${a.detail.role}`;
    case "member.role":
      return `${who} made ${a.detail.member ?? "a member"} ${a.detail.to} (was ${a.detail.from})`;
    case "member.removed":
      return `${who} removed ${a.detail.member ?? "a member"} from the session`;
    case "dataset.imported":
      return `${who} imported data set “${a.detail.name}” (${a.detail.count.toLocaleString()} images, ${a.detail.imageShape.join("×")})`;
    case "dataset.deleted":
      return `${who} deleted data set “${a.detail.name}”`;
    case "session.pauseOnCollapse":
      return `${who} turned pause on collapse ${a.detail.to ? "on" : "off"}`;
    case "unknown":
      return `${who}: ${a.detail.kind}${at}`;
  }
}

/** Activity kinds drawn as markers on the losses chart. */
export const MARKER_KINDS = new Set<ActivityKind | "unknown">([
  "run.started",
  "run.resumedFromCheckpoint",
  "run.pause",
  "run.resume",
  "run.stop",
  "run.failed",
  "control.lrMultiplier",
  "control.optimizer",
  "collapse.alarm",
]);

export function markerColor(kind: string): string {
  if (kind === "run.pause" || kind === "run.stop") return "#f59e0b";
  if (kind === "run.failed" || kind === "collapse.alarm") return "#f43f5e";
  if (kind.startsWith("control.")) return "#a78bfa";
  return "#34d399";
}
