"use client";
/**
 * The session view: everyone in the session watches the same run live (losses, sample grids, status), steers it
 * (editors and the owner), generates digits, and sees who is here and what everyone did.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { applyControl, type ParametersPush } from "../../lib/protocol/parameters";
import type { ActivityPush, RunStatusPush, ServicesPush } from "../../lib/protocol/socket";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { MARKER_KINDS } from "../_lib/format";
import { useSessionLive } from "../_lib/live";
import { readRange } from "../_lib/series";
import { useTRPC, type RouterOutputs } from "../_lib/trpc";
import { ActivityFeed, PresenceBar } from "./Activity";
import { CollapseAlarmBanner, DiagnosticsPanel, latestCollapseAlarm, PauseOnCollapse } from "./DiagnosticsPanel";
import { GeneratorPanel } from "./GeneratorPanel";
import { InvitePanel } from "./InvitePanel";
import { LossChart, type MarkerEntry } from "./LossChart";
import { NetworkView } from "./NetworkView";
import { ParameterTable } from "./ParameterTable";
import { RunControls } from "./RunControls";
import { SampleGrid } from "./SampleGrid";
import { Button, Notice, Panel, Skeleton } from "./ui";

type SessionData = RouterOutputs["sessions"]["get"];
type Params = RouterOutputs["runs"]["parameters"];

export function SessionView({ sessionId, runParam }: { sessionId: string; runParam: string | null }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));

  if (!me || session.isPending) {
    return (
      <main className="mx-auto flex max-w-[1400px] flex-col gap-4 px-3 py-4 sm:px-5" aria-busy="true">
        <Skeleton className="h-10 w-72" />
        <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_360px]">
          <Skeleton className="h-80" />
          <Skeleton className="h-80" />
        </div>
        <p className="sr-only" role="status">
          Loading the session…
        </p>
      </main>
    );
  }
  if (session.isError) {
    const code = errorCode(session.error);
    return (
      <main className="mx-auto flex max-w-xl flex-col gap-4 px-4 py-16" data-testid="session-error">
        <h1 className="text-2xl font-semibold">
          {code === "FORBIDDEN" ? "Not a member" : code === "NOT_FOUND" ? "No such session" : "This session cannot be shown"}
        </h1>
        <Notice tone={code === "FORBIDDEN" ? "warn" : "error"} role="alert">
          {code === "FORBIDDEN"
            ? "You are not a member of this session. Ask its owner for an invite link."
            : code === "NOT_FOUND"
              ? "This session does not exist (it may have been deleted)."
              : errorMessage(session.error)}
        </Notice>
        <Link href="/" className="text-sky-300 underline">
          Back to my sessions
        </Link>
      </main>
    );
  }
  const runs = session.data.runs;
  const runId = runParam ?? runs[runs.length - 1]?.id ?? null;
  return <LiveSession key={sessionId} data={session.data} sessionId={sessionId} runId={runId} />;
}

function LiveSession({ data, sessionId, runId }: { data: SessionData; sessionId: string; runId: string | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const pauseOnCollapse = useMutation(
    trpc.sessions.setPauseOnCollapse.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ sessionId }) }),
    }),
  );
  const router = useRouter();

  // A control that took effect moves the cached parameter table with the server's own function: no refetch.
  const onParameters = useCallback(
    (p: ParametersPush) => {
      queryClient.setQueryData<Params>(trpc.runs.parameters.queryKey({ runId: p.runId }), (old) => (old ? { ...old, state: applyControl(old.state, p) } : old));
    },
    [queryClient, trpc],
  );
  const onActivity = useCallback(
    (a: ActivityPush) => {
      if (a.kind.startsWith("run.") || a.kind.startsWith("session.") || a.kind.startsWith("member.")) {
        void queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ sessionId }) });
        if (runId) void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId }) });
      }
    },
    [queryClient, runId, sessionId, trpc],
  );
  const onStatus = useCallback(
    (s: RunStatusPush) => {
      void queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ sessionId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ runId: s.runId }) });
    },
    [queryClient, sessionId, trpc],
  );
  const live = useSessionLive(sessionId, runId, { onActivity, onStatus, onParameters });
  // A zoom into a long run's overview reads that range at full resolution, page by page (past points never change).
  const loadRange = useCallback(
    (from: number, to: number) =>
      readRange(
        (fromIteration, toIteration) =>
          queryClient.fetchQuery(trpc.runs.historyRange.queryOptions({ runId: runId ?? "", fromIteration, toIteration }, { staleTime: 5 * 60_000 })),
        from,
        to,
      ),
    [queryClient, trpc, runId],
  );

  const runDetail = useQuery(trpc.runs.get.queryOptions({ runId: runId ?? "" }, { enabled: !!runId }));
  const params = useQuery(trpc.runs.parameters.queryOptions({ runId: runId ?? "" }, { enabled: !!runId }));
  const runActivity = useQuery(trpc.sessions.activity.queryOptions({ sessionId, runId: runId ?? undefined, limit: 1000 }, { enabled: !!runId }));
  const feed = useQuery(trpc.sessions.activity.queryOptions({ sessionId, limit: 100 }));

  // After a reconnect, read again what may have happened while the connection was down.
  const joinsSeen = useRef(0);
  useEffect(() => {
    if (live.joins <= 1 || live.joins === joinsSeen.current) return;
    joinsSeen.current = live.joins;
    void queryClient.invalidateQueries({ queryKey: trpc.sessions.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
  }, [live.joins, queryClient, trpc]);
  useEffect(() => {
    if (live.connection === "unauthorized") void queryClient.invalidateQueries({ queryKey: trpc.auth.me.queryKey() });
  }, [live.connection, queryClient, trpc]);

  const markers = useMemo(() => {
    const byId = new Map<string, MarkerEntry>();
    for (const a of runActivity.data ?? []) byId.set(a.id, a);
    for (const a of live.activity) if (a.runId === runId) byId.set(a.id, a);
    return [...byId.values()].filter((a) => MARKER_KINDS.has(a.kind) && a.iteration !== null);
  }, [runActivity.data, live.activity, runId]);
  const feedEntries = useMemo(() => {
    const byId = new Map<string, MarkerEntry>();
    for (const a of feed.data ?? []) byId.set(a.id, a);
    for (const a of live.activity) byId.set(a.id, a);
    return [...byId.values()];
  }, [feed.data, live.activity]);

  const collapse = useMemo(
    () =>
      latestCollapseAlarm(
        live.diagnostics,
        live.activity.filter((a) => a.runId === runId),
      ),
    [live.diagnostics, live.activity, runId],
  );
  const [dismissedAlarm, setDismissedAlarm] = useState<string | null>(null);

  // The session query is refetched when a member's role changes; the join's role is only as fresh as the last join.
  const role = data.role ?? live.role;
  const canEdit = role === "editor" || role === "owner";
  const runRecord = runDetail.data?.run ?? data.runs.find((r) => r.id === runId) ?? null;
  const config = (runRecord?.config ?? {}) as { batchSize?: number; maxEpoch?: number };
  const run = live.run && live.run.runId === runId ? live.run : null;
  const status = run?.status ?? runRecord?.status ?? "idle";
  const runNames = new Map(data.runs.map((r) => [r.id, r.name]));
  const runsNewestFirst = [...data.runs].reverse();

  const header = (
    <div className="flex flex-wrap items-center justify-between gap-3">
      <div className="flex min-w-0 flex-wrap items-center gap-3">
        <h1 className="truncate text-xl font-semibold sm:text-2xl">{data.session.name}</h1>
        <span className="rounded bg-slate-800 px-1.5 py-0.5 text-[11px] uppercase tracking-wide text-slate-400" data-testid="my-role">
          {role}
        </span>
        {data.runs.length > 0 ? (
          <div className="flex items-center gap-2">
            <label htmlFor="run-picker" className="text-sm text-slate-400">
              Run
            </label>
            <select
              id="run-picker"
              value={runId ?? ""}
              onChange={(e) => router.push(`/sessions/${sessionId}?run=${e.target.value}`)}
              className="min-h-9 max-w-[14rem] rounded-md bg-slate-900 px-2 text-sm ring-1 ring-inset ring-slate-700"
            >
              {runsNewestFirst.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} · {r.status}
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </div>
      <div className="flex flex-wrap items-center gap-3">
        <PresenceBar users={live.presence} />
        <Link
          href={`/sessions/${sessionId}/datasets`}
          className="inline-flex min-h-9 items-center rounded-md px-3 text-sm text-slate-300 ring-1 ring-inset ring-slate-700 hover:bg-slate-800"
        >
          Data sets
        </Link>
        <Link
          href={`/sessions/${sessionId}/history`}
          className="inline-flex min-h-9 items-center rounded-md px-3 text-sm text-slate-300 ring-1 ring-inset ring-slate-700 hover:bg-slate-800"
        >
          Run history
        </Link>
        {canEdit ? (
          <Link
            href={`/sessions/${sessionId}/runs/new`}
            className="inline-flex min-h-9 items-center rounded-md bg-sky-500 px-3 text-sm font-medium text-slate-950 hover:bg-sky-400"
          >
            New run
          </Link>
        ) : null}
      </div>
    </div>
  );

  const banner =
    live.connection === "reconnecting" ? (
      <div
        role="status"
        data-testid="reconnecting"
        className="sticky top-12 z-20 flex items-center justify-center gap-2 rounded-lg bg-amber-500/15 px-3 py-2 text-sm text-amber-100 ring-1 ring-amber-500/40"
      >
        <span aria-hidden className="h-2 w-2 motion-safe:animate-ping rounded-full bg-amber-400" />
        Connection lost — reconnecting… the view catches up by itself.
      </div>
    ) : live.connection === "unavailable" ? (
      <ServiceBanner testId="database-unavailable" tone="rose">
        The server cannot reach its database, so it cannot open this session yet — retrying by itself.
      </ServiceBanner>
    ) : live.connection === "connecting" ? (
      <p role="status" className="text-xs text-slate-500">
        connecting…
      </p>
    ) : null;

  return (
    <main className="mx-auto flex max-w-[1400px] flex-col gap-4 px-3 py-4 sm:px-5" data-testid="session-view" data-connection={live.connection}>
      {header}
      {banner}
      {live.connection === "live" && live.services ? <ServicesBanner services={live.services} /> : null}
      {runId && collapse && collapse.key !== dismissedAlarm ? <CollapseAlarmBanner alarm={collapse} onDismiss={() => setDismissedAlarm(collapse.key)} /> : null}
      {live.joinError?.code === "UNSUPPORTED_PROTOCOL" ? (
        <Notice tone="error" role="alert">
          <span className="flex flex-wrap items-center gap-3">
            <span data-testid="join-unsupported">{live.joinError.message}</span>
            <Button tone="primary" onClick={() => window.location.reload()}>
              Reload
            </Button>
          </span>
        </Notice>
      ) : live.joinError ? (
        <Notice tone="error" role="alert">
          {live.joinError.code === "FORBIDDEN"
            ? "You are not a member of this session."
            : live.joinError.code === "NOT_FOUND"
              ? "This run is not in this session."
              : live.joinError.message}
        </Notice>
      ) : null}

      {!runId ? (
        <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_360px] [&>*]:min-w-0">
          <div className="flex flex-col items-center justify-center gap-3 rounded-xl border border-dashed border-slate-700 p-10 text-center">
            <p className="text-lg text-slate-200">No run yet</p>
            {canEdit ? (
              <>
                <p className="max-w-md text-slate-400">
                  Configure NNC&apos;s DCGAN with label (or the smaller DCGAN) and start training: everyone here sees it live.
                </p>
                <Link
                  href={`/sessions/${sessionId}/runs/new`}
                  className="inline-flex min-h-10 items-center rounded-md bg-sky-500 px-4 font-medium text-slate-950 hover:bg-sky-400"
                >
                  Create the first run
                </Link>
              </>
            ) : (
              <p className="text-slate-400">Waiting for an editor to create a run. You will see it here as soon as it starts.</p>
            )}
          </div>
          <aside className="flex flex-col gap-4">
            {role === "owner" ? (
              <Panel title="Members and invites" id="invite">
                <InvitePanel sessionId={sessionId} members={data.members} />
              </Panel>
            ) : null}
            <Panel title="Activity" id="activity">
              <ActivityFeed entries={feedEntries} runNames={runNames} />
            </Panel>
          </aside>
        </div>
      ) : (
        // Phone: one column in reading order (pictures, diagnostics, controls, generator, parameters, activity). Desktop: the
        // side column (controls, activity, invite) is one flex column beside the pictures and panels.
        <div className="flex flex-col gap-4 lg:grid lg:grid-cols-[minmax(0,1fr)_360px] lg:items-start">
          {/* Pictures first: the grid and the losses. */}
          <section
            aria-label="Samples and losses"
            className="order-1 grid min-w-0 gap-4 rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800 md:grid-cols-[auto_minmax(0,1fr)] lg:order-none lg:col-start-1 lg:row-start-1"
          >
            <div className="flex flex-col gap-2">
              <h2 className="text-sm font-semibold uppercase tracking-wide text-slate-400">Sample grid</h2>
              <SampleGrid grids={live.grids} runName={run?.name ?? runRecord?.name ?? "run"} height={280} />
            </div>
            <div className="flex min-w-0 flex-col gap-2">
              <h2 className="text-sm font-semibold uppercase tracking-wide text-slate-400">Losses</h2>
              <LossChart series={live.series} markers={markers} height={280} loadRange={runId ? loadRange : undefined} />
            </div>
          </section>

          <Panel
            title="Diagnostics"
            id="diagnostics"
            className="order-2 min-w-0 lg:order-none lg:col-start-1 lg:row-start-2"
            actions={
              <PauseOnCollapse
                value={pauseOnCollapse.isPending && pauseOnCollapse.variables ? pauseOnCollapse.variables.value : data.session.pauseOnCollapse}
                canChange={role === "owner"}
                pending={pauseOnCollapse.isPending}
                onChange={(value) => pauseOnCollapse.mutate({ sessionId, value })}
              />
            }
          >
            <DiagnosticsPanel diagnostics={live.diagnostics} />
          </Panel>

          <div className="contents lg:col-start-2 lg:row-span-5 lg:row-start-1 lg:flex lg:min-w-0 lg:flex-col lg:gap-4">
            <Panel title={run?.name ?? runRecord?.name ?? "Run"} id="controls" className="order-3 min-w-0 lg:order-none">
              {run ? (
                <RunControls
                  runId={runId}
                  run={run}
                  series={live.series}
                  canEdit={canEdit}
                  batchSize={config.batchSize ?? 64}
                  maxEpoch={config.maxEpoch ?? 100}
                  totalIterations={runDetail.data?.run.totalIterations ?? run.totalIterations}
                  hasCheckpoint={(runDetail.data?.checkpoints.length ?? 0) > 0}
                />
              ) : (
                <Skeleton className="h-28" />
              )}
              {runDetail.data ? (
                <p className="mt-2 text-xs text-slate-400" data-testid="run-dataset">
                  Data set:{" "}
                  <Link href={`/sessions/${sessionId}/datasets/${runDetail.data.dataset.id}`} className="text-sky-300 hover:underline">
                    {runDetail.data.dataset.name}
                  </Link>
                </p>
              ) : null}
              {status === "failed" || status === "interrupted" ? (
                <div className="mt-3">
                  <Notice tone={status === "failed" ? "error" : "warn"} role="alert">
                    <strong>{status === "failed" ? "The run failed." : "The run was interrupted."}</strong> {run?.reason ?? runRecord?.failureReason ?? ""}
                    {canEdit ? " Resume it from its last checkpoint above." : ""}
                  </Notice>
                </div>
              ) : null}
            </Panel>
            <Panel title="Activity" id="activity" className="order-6 min-w-0 lg:order-none">
              <ActivityFeed entries={feedEntries} runNames={runNames} />
            </Panel>
            {role === "owner" ? (
              <Panel title="Members and invites" id="invite" className="order-7 min-w-0 lg:order-none">
                <InvitePanel sessionId={sessionId} members={data.members} />
              </Panel>
            ) : null}
          </div>

          <Panel title="RuntimeGenerator" id="generator" className="order-4 min-w-0 lg:order-none lg:col-start-1 lg:row-start-3">
            <GeneratorPanel
              runId={runId}
              hasWeights={status !== "idle" && (status !== "queued" || (runDetail.data?.checkpoints.length ?? 0) > 0)}
              numLabels={params.data?.numLabels ?? 10}
              labelNames={params.data?.labelNames ?? null}
              weightsEpoch={live.grids.at(-1)?.epoch ?? null}
            />
          </Panel>

          <Panel
            title="Parameters"
            id="parameters"
            className="order-5 min-w-0 lg:order-none lg:col-start-1 lg:row-start-4"
            actions={
              // Every control change of the run, in order (who, what, old → new, iteration): to reproduce a result.
              <span className="flex items-center gap-2 text-xs text-slate-400" data-testid="change-log">
                Change log
                <a className="rounded px-1.5 py-0.5 text-sky-300 ring-1 ring-slate-700 hover:bg-slate-800" href={`/api/runs/${runId}/changes.csv`} download>
                  CSV
                </a>
                <a className="rounded px-1.5 py-0.5 text-sky-300 ring-1 ring-slate-700 hover:bg-slate-800" href={`/api/runs/${runId}/changes.json`} download>
                  JSON
                </a>
              </span>
            }
          >
            {params.data ? (
              <ParameterTable
                runId={runId}
                data={params.data}
                canEdit={canEdit}
                live={status === "running" || status === "paused"}
                paused={status === "paused"}
              />
            ) : params.isError ? (
              <Notice tone="error">{errorMessage(params.error)}</Notice>
            ) : (
              <Skeleton className="h-64" />
            )}
          </Panel>

          {params.data ? (
            <Panel title="Networks" id="networks" className="order-8 min-w-0 lg:order-none lg:col-start-1 lg:row-start-5">
              <NetworkView data={params.data} />
            </Panel>
          ) : null}
        </div>
      )}
    </main>
  );
}

/** One line under the header about a service the server lost; it goes away by itself when the service is back. */
function ServiceBanner({ testId, tone, children }: { testId: string; tone: "rose" | "amber"; children: ReactNode }) {
  const colors = tone === "rose" ? "bg-rose-500/15 text-rose-100 ring-rose-500/40" : "bg-amber-500/15 text-amber-100 ring-amber-500/40";
  return (
    <div role="status" data-testid={testId} className={`sticky top-12 z-20 flex items-start gap-2 rounded-lg px-3 py-2 text-sm ring-1 ${colors}`}>
      <span aria-hidden className={`mt-1.5 h-2 w-2 shrink-0 motion-safe:animate-ping rounded-full ${tone === "rose" ? "bg-rose-400" : "bg-amber-400"}`} />
      <span>{children}</span>
    </div>
  );
}

/** What the connected server says is down (`services` pushes), in the words of what it means for this page. */
function ServicesBanner({ services }: { services: ServicesPush }) {
  const since = new Date(services.since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (!services.database.ok) {
    const which = services.database.kind === "postgresql" ? "its PostgreSQL database" : "its database";
    return (
      <ServiceBanner testId="services-banner" tone="rose">
        The server lost {which} at {since}. Runs it trains pause and keep every point until it is back; changes are refused meanwhile. It reconnects by itself.
      </ServiceBanner>
    );
  }
  return (
    <ServiceBanner testId="services-banner" tone="amber">
      This server lost Redis, the cluster's link, at {since}. Runs it trains stay live here; runs other servers train catch up once Redis is back, by itself.
    </ServiceBanner>
  );
}
