/** Small formatting helpers shared by the pages. Dates arrive as ISO strings (no transformer on the wire). */

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

/** One activity entry in words: who did what. */
export function describeActivity(a: { kind: string; userName: string | null; detail: Record<string, unknown>; iteration: number | null }): string {
  const who = a.userName ?? "The trainer";
  const d = a.detail;
  const at = a.iteration !== null ? ` at iteration ${a.iteration}` : "";
  switch (a.kind) {
    case "run.created":
      return `${who} created run “${String(d.name ?? "")}”`;
    case "run.started":
      return `${who} started the run${d.fromQueue ? " (from the trainer queue: a slot freed)" : ""}`;
    case "run.resumedFromCheckpoint":
      return `${who} resumed the run from its checkpoint (iteration ${String(d.checkpointIteration ?? "?")})${d.fromQueue ? ": a trainer slot freed" : ""}`;
    case "run.queued":
      return `${who} started the run: every trainer slot is busy, so it waits in the queue (${Number(d.ahead ?? 0) === 0 ? "next in line" : `${String(d.ahead)} ahead`})`;
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
      return `The run failed${at}: ${String(d.reason ?? "no reason given")}`;
    case "run.error":
      return `Trainer error${at}: ${String(d.message ?? "")}`;
    case "control.lrMultiplier":
      return `${who} set ${String(d.scope)}/${String(d.param)} LRateMultiplier ${String(d.from)} → ${String(d.to)}${at}`;
    case "control.optimizer": {
      const from = (d.from as { alpha?: number } | undefined)?.alpha;
      const to = (d.to as { alpha?: number } | undefined)?.alpha;
      return `${who} set ${String(d.network)} α ${from ?? "?"} → ${to ?? "?"}${at}`;
    }
    case "collapse.alarm": {
      const alarms = Array.isArray(d.alarms) ? (d.alarms as { message?: string }[]) : [];
      const what =
        alarms
          .map((x) => x.message)
          .filter(Boolean)
          .join("; ") || "mode collapse suspected";
      return `Collapse alarm${at}: ${what}${d.pausing ? " (the run pauses)" : ""}`;
    }
    case "member.joined":
      return `${who} joined as ${String(d.role ?? "member")}`;
    case "member.role":
      return `${who} made ${String(d.member ?? "a member")} ${String(d.to ?? "?")} (was ${String(d.from ?? "?")})`;
    case "member.removed":
      return `${who} removed ${String(d.member ?? "a member")} from the session`;
    case "dataset.imported":
      return `${who} imported data set “${String(d.name ?? "")}” (${Number(d.count ?? 0).toLocaleString()} images${Array.isArray(d.imageShape) ? `, ${d.imageShape.join("×")}` : ""})`;
    case "dataset.deleted":
      return `${who} deleted data set “${String(d.name ?? "")}”`;
    case "session.pauseOnCollapse":
      return `${who} turned pause on collapse ${d.to ? "on" : "off"}`;
    default:
      return `${who}: ${a.kind}${at}`;
  }
}

/** Activity kinds drawn as markers on the losses chart. */
export const MARKER_KINDS = new Set([
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
