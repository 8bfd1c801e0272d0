"use client";
/** Finished runs (completed, stopped, failed, interrupted), newest first: final grid, final losses, checkpoints. */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { bytes, num, timeAgo } from "../_lib/format";
import { useTRPC } from "../_lib/trpc";
import { Breadcrumb, Notice, Skeleton, StatusBadge } from "./ui";

export function RunHistory({ sessionId }: { sessionId: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const finished = useQuery(trpc.runs.finished.queryOptions({ sessionId }, { enabled: !!me }));

  return (
    <main className="mx-auto flex max-w-[1400px] flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} />
      <div>
        <h1 className="text-2xl font-semibold">Run history</h1>
        <p className="text-sm text-slate-400">
          Finished runs with their last sample grid and checkpoints. A stopped, failed or interrupted run can be resumed from its session view.
        </p>
      </div>
      {finished.isPending ? (
        <Skeleton className="h-48" />
      ) : finished.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(finished.error) === "FORBIDDEN" ? "You are not a member of this session." : errorMessage(finished.error)}
        </Notice>
      ) : finished.data.length === 0 ? (
        <div className="rounded-xl border border-dashed border-slate-700 p-8 text-center text-slate-400">
          No finished runs yet. Runs appear here once they complete or are stopped.
        </div>
      ) : (
        <ul className="grid gap-4 md:grid-cols-2" aria-label="Finished runs" data-testid="run-history">
          {finished.data.map((r) => (
            <li key={r.id} className="flex gap-4 rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800" data-testid="history-run">
              <div className="flex h-40 min-w-16 max-w-40 shrink-0 items-center justify-center overflow-hidden rounded-lg bg-black ring-1 ring-slate-800">
                {r.finalGrid ? (
                  // eslint-disable-next-line @next/next/no-img-element
                  <img
                    src={r.finalGrid.url}
                    alt={`Final sample grid of ${r.name}, epoch ${r.finalGrid.epoch}`}
                    className="pixelated h-full w-auto object-contain"
                  />
                ) : (
                  <span className="w-24 text-center text-xs text-slate-500">no grid</span>
                )}
              </div>
              <div className="flex min-w-0 flex-1 flex-col gap-2">
                <div className="flex flex-wrap items-center gap-2">
                  <h2 className="truncate font-semibold">{r.name}</h2>
                  <StatusBadge status={r.status} />
                </div>
                <p className="text-xs text-slate-400">
                  {r.network} on {r.datasetName} · epoch {r.epoch}/{r.maxEpoch} · batch {r.batchSize} · {r.backend ?? "no backend"} · {timeAgo(r.updatedAt)}
                </p>
                {r.failureReason ? <p className="text-xs text-rose-300">{r.failureReason}</p> : null}
                {r.finalLosses ? (
                  <p className="text-xs tabular-nums text-slate-300">
                    final losses: GReal {num(r.finalLosses.gReal)} · Fake {num(r.finalLosses.fake)} · Real {num(r.finalLosses.real)}
                  </p>
                ) : null}
                {r.downloads.length > 0 ? (
                  <p className="flex flex-wrap gap-2 text-xs">
                    {r.downloads.map((d) => (
                      <a
                        key={d.kind}
                        href={`/api/runs/${r.id}/checkpoints/${d.kind}.zip`}
                        download
                        className="inline-flex min-h-8 items-center rounded-md px-2 text-sky-300 ring-1 ring-inset ring-slate-700 hover:bg-slate-800"
                        data-testid={`download-${d.kind}`}
                      >
                        ↓ {d.kind === "best" ? "best" : "last"} checkpoint (epoch {d.epoch}, {bytes(d.bytes)})
                      </a>
                    ))}
                  </p>
                ) : null}
                <details className="text-xs text-slate-400">
                  <summary className="cursor-pointer">
                    {r.checkpoints.length} checkpoint{r.checkpoints.length === 1 ? "" : "s"}
                  </summary>
                  <ul className="mt-1 flex flex-col gap-0.5">
                    {r.checkpoints.map((c) => (
                      <li key={c.id} className="tabular-nums">
                        {c.kind} · epoch {c.epoch} · iteration {c.iteration} · {bytes(c.bytes)}
                      </li>
                    ))}
                  </ul>
                </details>
                <Link href={`/sessions/${sessionId}?run=${r.id}`} className="mt-auto self-start text-sm text-sky-300 hover:underline">
                  Open in the session →
                </Link>
              </div>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
