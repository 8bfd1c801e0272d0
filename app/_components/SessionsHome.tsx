"use client";
/** My sessions: every session I own or joined, its run at a glance (state, epoch, latest grid), who is watching. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useRequireUser } from "../_lib/auth";
import { errorMessage, issuesByPath } from "../_lib/errors";
import { timeAgo } from "../_lib/format";
import { useTRPC, type RouterOutputs } from "../_lib/trpc";
import { Avatar, Button, Field, Notice, Skeleton, StatusBadge } from "./ui";

type SessionItem = RouterOutputs["sessions"]["list"][number];

export function SessionsHome() {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.sessions.list.queryOptions(undefined, { enabled: !!me, refetchInterval: 10_000 }));
  const [name, setName] = useState("");
  const create = useMutation(
    trpc.sessions.create.mutationOptions({
      onSuccess: async (s) => {
        await queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
        router.push(`/sessions/${s.id}`);
      },
    }),
  );
  const [invite, setInvite] = useState("");
  const [inviteError, setInviteError] = useState<string | null>(null);

  const submitCreate = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name });
  };
  const submitInvite = (e: FormEvent) => {
    e.preventDefault();
    const token = invite.trim().split("/invite/").pop()?.split(/[?#]/)[0]?.trim() ?? "";
    if (token.length < 10) return setInviteError("Paste the whole invite link (it ends with /invite/…).");
    setInviteError(null);
    router.push(`/invite/${encodeURIComponent(token)}`);
  };

  return (
    <main className="mx-auto flex max-w-[1400px] flex-col gap-6 px-3 py-6 sm:px-5">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">My sessions</h1>
          <p className="text-sm text-slate-400">Sessions you own or joined. Everyone in a session watches the same live run.</p>
        </div>
      </div>

      <div className="grid gap-4 lg:grid-cols-2">
        <form onSubmit={submitCreate} noValidate className="flex flex-wrap items-end gap-3 rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800">
          <Field
            id="new-session-name"
            label="New session"
            placeholder="e.g. Digits with the team"
            value={name}
            onChange={(e) => setName(e.target.value)}
            error={issuesByPath(create.error).name ?? (create.error && !issuesByPath(create.error).name ? errorMessage(create.error) : undefined)}
            className="min-w-0 flex-1"
          />
          <Button type="submit" tone="primary" disabled={create.isPending || !me}>
            Create session
          </Button>
        </form>
        <form onSubmit={submitInvite} noValidate className="flex flex-wrap items-end gap-3 rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800">
          <Field
            id="invite-link"
            label="Join with an invite link"
            placeholder="https://…/invite/…"
            value={invite}
            onChange={(e) => setInvite(e.target.value)}
            error={inviteError ?? undefined}
            className="min-w-0 flex-1"
          />
          <Button type="submit" disabled={!invite.trim()}>
            Join
          </Button>
        </form>
      </div>

      {sessions.isPending ? (
        <ul aria-busy="true" aria-label="Loading sessions" className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3">
          {[0, 1, 2].map((i) => (
            <li key={i}>
              <Skeleton className="h-32" />
            </li>
          ))}
        </ul>
      ) : sessions.isError ? (
        <Notice tone="error" role="alert">
          {errorMessage(sessions.error)}
        </Notice>
      ) : sessions.data.length === 0 ? (
        <div className="rounded-xl border border-dashed border-slate-700 p-8 text-center text-slate-400">
          <p className="text-lg text-slate-200">No sessions yet</p>
          <p>Create one above, or open the invite link a teammate sent you.</p>
        </div>
      ) : (
        <ul className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3" aria-label="Sessions">
          {sessions.data.map((s) => (
            <SessionCard key={s.id} s={s} />
          ))}
        </ul>
      )}
    </main>
  );
}

function SessionCard({ s }: { s: SessionItem }) {
  const run = s.latestRun;
  const thumb = run && run.latestGridEpoch !== null ? `/api/runs/${run.id}/grids/${run.latestGridEpoch}.png` : null;
  return (
    <li data-testid="session-card" data-session-id={s.id}>
      <Link
        href={`/sessions/${s.id}`}
        className="group flex h-full gap-4 rounded-xl bg-slate-900/70 p-3 ring-1 ring-slate-800 transition hover:bg-slate-900 hover:ring-sky-500/50"
      >
        <div className="flex h-28 min-w-16 max-w-28 shrink-0 items-center justify-center overflow-hidden rounded-lg bg-black ring-1 ring-slate-800">
          {thumb ? (
            // eslint-disable-next-line @next/next/no-img-element
            <img src={thumb} alt={`Latest sample grid of ${run!.name}, epoch ${run!.latestGridEpoch}`} className="pixelated h-full w-auto object-contain" />
          ) : (
            <span className="w-24 px-2 text-center text-xs text-slate-500">{run ? "no samples yet" : "no run yet"}</span>
          )}
        </div>
        <div className="flex min-w-0 flex-1 flex-col gap-1.5">
          <div className="flex items-start justify-between gap-2">
            <h2 className="truncate font-semibold text-slate-100 group-hover:text-sky-200">{s.name}</h2>
            <span className="shrink-0 rounded bg-slate-800 px-1.5 py-0.5 text-[11px] uppercase tracking-wide text-slate-400">{s.role}</span>
          </div>
          {run ? (
            <div className="flex flex-wrap items-center gap-2 text-sm text-slate-300">
              <StatusBadge status={run.status} />
              <span className="truncate">{run.name}</span>
              <span className="text-slate-500">epoch {run.epoch}</span>
            </div>
          ) : (
            <p className="text-sm text-slate-500">No run yet</p>
          )}
          <div className="mt-auto flex items-center justify-between gap-2">
            {/* biome-ignore lint/a11y/useSemanticElements: a <fieldset> groups form controls; this names a group of avatars */}
            <div className="flex items-center -space-x-1.5" role="group" aria-label={`${s.watching.length} watching now`}>
              {s.watching.slice(0, 5).map((u) => (
                <Avatar key={u.userId} id={u.userId} name={u.name} size="sm" title={`${u.name} is watching`} />
              ))}
              {s.watching.length === 0 ? <span className="text-xs text-slate-500">nobody watching</span> : null}
            </div>
            <span className="text-xs text-slate-500">
              {s.memberCount} member{s.memberCount === 1 ? "" : "s"} · {timeAgo(s.lastActivityAt)}
            </span>
          </div>
        </div>
      </Link>
    </li>
  );
}
