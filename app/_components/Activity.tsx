"use client";
/** Who is here now (presence), and what everyone did (the activity feed, newest first). */
import type { PresenceUser } from "../../lib/protocol/socket";
import { clockTime, describeActivity, markerColor, timeAgo } from "../_lib/format";
import { useTick } from "../_lib/useTick";
import type { MarkerEntry } from "./LossChart";
import { Avatar } from "./ui";

export function PresenceBar({ users }: { users: PresenceUser[] }) {
  if (users.length === 0) return null;
  return (
    // biome-ignore lint/a11y/useSemanticElements: a <fieldset> groups form controls; this names a group of avatars
    <div className="flex items-center gap-2" data-testid="presence" role="group" aria-label={`${users.length} here now`}>
      <div className="flex -space-x-1.5">
        {users.map((u) => (
          <Avatar key={u.userId} id={u.userId} name={u.name} title={`${u.name} (${u.role}) is here`} />
        ))}
      </div>
      <span className="text-xs text-slate-400">{users.length === 1 ? "only you here" : `${users.length} here`}</span>
    </div>
  );
}

export function ActivityFeed({ entries, runNames }: { entries: MarkerEntry[]; runNames: Map<string, string> }) {
  useTick(10_000);
  const newest = [...entries].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0)).slice(0, 80);
  if (newest.length === 0) return <p className="text-sm text-slate-500">Nothing has happened yet.</p>;
  return (
    <ol className="flex max-h-[28rem] flex-col gap-2 overflow-y-auto pr-1" data-testid="activity-feed" aria-live="polite">
      {newest.map((a) => (
        <li key={a.id} className="flex gap-2 text-sm" data-kind={a.kind}>
          {a.userName && a.userId ? (
            <Avatar id={a.userId} name={a.userName} size="sm" />
          ) : (
            <span aria-hidden className="mt-1.5 h-3 w-3 shrink-0 rounded-full" style={{ backgroundColor: markerColor(a.kind) }} />
          )}
          <div className="min-w-0">
            <p className="line-clamp-3 leading-snug text-slate-200" title={describeActivity(a)}>
              {describeActivity(a)}
            </p>
            <p className="text-xs text-slate-500" title={new Date(a.createdAt).toLocaleString()}>
              {timeAgo(a.createdAt)} · {clockTime(a.createdAt)}
              {a.runId && runNames.get(a.runId) ? ` · ${runNames.get(a.runId)}` : ""}
            </p>
          </div>
        </li>
      ))}
    </ol>
  );
}
