"use client";
/**
 * A data set's page (/sessions/[id]/datasets/[datasetId]): counts per label, examples per label, the train/validation
 * split every run uses, which networks fit, who imported it and when; a new run on it, and delete while no run uses it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { bytes, timeAgo } from "../_lib/format";
import { useTRPC } from "../_lib/trpc";
import { PerLabelBars } from "./DatasetWidgets";
import { Breadcrumb, Button, Notice, Panel, Skeleton } from "./ui";

export function DatasetDetailPage({ sessionId, datasetId }: { sessionId: string; datasetId: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const detail = useQuery(trpc.datasets.get.queryOptions({ sessionId, datasetId }, { enabled: !!me }));
  const remove = useMutation(
    trpc.datasets.remove.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.datasets.list.queryKey({ sessionId }) });
        router.push(`/sessions/${sessionId}/datasets`);
      },
    }),
  );
  const viewer = session.data?.role === "viewer";
  const d = detail.data;

  return (
    <main className="mx-auto flex max-w-[1100px] flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} trail={[{ href: `/sessions/${sessionId}/datasets`, label: "Data sets" }]} />
      {detail.isPending ? (
        <Skeleton className="h-96" />
      ) : detail.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(detail.error) === "FORBIDDEN"
            ? "You are not a member of this session."
            : errorCode(detail.error) === "NOT_FOUND"
              ? "This session has no such data set (it may have been deleted)."
              : errorMessage(detail.error)}
        </Notice>
      ) : d ? (
        <>
          <div className="flex flex-wrap items-end justify-between gap-3">
            <div>
              <h1 className="text-2xl font-semibold" data-testid="dataset-name">
                {d.name}
              </h1>
              <p className="text-sm text-slate-400" data-testid="dataset-summary">
                {d.count.toLocaleString()} images · {d.imageShape[0]}×{d.imageShape[1]} {d.imageShape[2] === 3 ? "RGB" : "gray"} · {d.numLabels} labels ·{" "}
                {d.bundled ? "comes with GAN Studio" : `imported by ${d.importedBy ?? "someone"} ${d.importedAt ? timeAgo(d.importedAt) : ""} from ${d.source}`}
              </p>
              {!d.bundled ? (
                <p className="text-xs text-slate-500">
                  {d.format === "nnc-csv" ? "NNC dataset CSV" : d.format === "folders" ? "one folder per label" : "IDX files"} · {bytes(d.bytes)} stored
                  {d.resized > 0 ? ` · ${d.resized.toLocaleString()} images resized on import` : ""} · id <code>{d.id}</code>
                </p>
              ) : null}
            </div>
            <div className="flex gap-2">
              {!viewer ? (
                <Link
                  href={`/sessions/${sessionId}/runs/new?dataset=${d.id}`}
                  className="inline-flex min-h-9 items-center rounded-md bg-sky-500 px-3 text-sm font-medium text-slate-950 hover:bg-sky-400"
                >
                  New run on it
                </Link>
              ) : null}
              {!viewer && !d.bundled ? (
                <Button
                  tone="danger"
                  disabled={d.runCount > 0 || remove.isPending}
                  title={d.runCount > 0 ? `Used by ${d.runCount} run${d.runCount === 1 ? "" : "s"} of this session: it cannot be deleted` : undefined}
                  onClick={() => {
                    if (window.confirm(`Delete "${d.name}" from this session?`)) remove.mutate({ sessionId, datasetId });
                  }}
                >
                  Delete
                </Button>
              ) : null}
            </div>
          </div>
          {d.runCount > 0 && !d.bundled && !viewer ? (
            <p className="text-xs text-slate-500">
              Used by {d.runCount} run{d.runCount === 1 ? "" : "s"} of this session, so it cannot be deleted.
            </p>
          ) : null}
          {remove.isError ? (
            <Notice tone="error" role="alert">
              {errorMessage(remove.error)}
            </Notice>
          ) : null}
          <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
            <Panel title="Images per label" id="per-label">
              <PerLabelBars perLabel={d.perLabel} labelNames={d.labelNames} height={96} testId="per-label" />
              <table className="mt-3 w-full text-xs tabular-nums" data-testid="split-table">
                <caption className="mb-1 text-left text-slate-400">
                  Train / validation split (every run on this data set uses the same one; {Math.round(d.split.fraction * 1000) / 10}% held out per label)
                </caption>
                <thead className="text-slate-400">
                  <tr>
                    <th className="text-left font-medium">Label</th>
                    <th className="text-right font-medium">Images</th>
                    <th className="text-right font-medium">Train</th>
                    <th className="text-right font-medium">Validation</th>
                  </tr>
                </thead>
                <tbody className="text-slate-200">
                  {d.perLabel.map((n, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: one row per label: the index is the label number
                    <tr key={i} className="border-t border-slate-800">
                      <td>{d.labelNames?.[i] ?? i}</td>
                      <td className="text-right">{n.toLocaleString()}</td>
                      <td className="text-right">{d.split.train[i]!.toLocaleString()}</td>
                      <td className="text-right">{d.split.validation[i]!.toLocaleString()}</td>
                    </tr>
                  ))}
                  <tr className="border-t border-slate-700 font-semibold">
                    <td>all</td>
                    <td className="text-right">{d.count.toLocaleString()}</td>
                    <td className="text-right">{d.split.train.reduce((a, b) => a + b, 0).toLocaleString()}</td>
                    <td className="text-right">{d.split.validation.reduce((a, b) => a + b, 0).toLocaleString()}</td>
                  </tr>
                </tbody>
              </table>
            </Panel>
            <Panel title="Examples per label" id="examples">
              <div className="flex gap-2">
                <ol className="flex flex-col justify-around text-right text-xs text-slate-400" aria-hidden>
                  {d.perLabel.map((_, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: one row per label: the index is the label number
                    <li key={i}>{d.labelNames?.[i] ?? i}</li>
                  ))}
                </ol>
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img
                  src={`/api/sessions/${sessionId}/datasets/${d.id}/examples.png`}
                  alt={`Eight example images of each of the ${d.numLabels} labels of ${d.name}, one row per label`}
                  className="pixelated w-full max-w-md rounded bg-black"
                  data-testid="examples"
                />
              </div>
            </Panel>
          </div>
          <Panel title="Networks" id="networks">
            <ul className="flex flex-col gap-2 text-sm" data-testid="network-fit">
              {d.networks.map((n) => (
                <li key={n.name} className="flex gap-2">
                  <span aria-hidden className={n.ok ? "text-emerald-400" : "text-rose-400"}>
                    {n.ok ? "✓" : "✗"}
                  </span>
                  <span>
                    <span className="font-medium">{n.name}</span> <span className="text-slate-400">{n.message}</span>
                  </span>
                </li>
              ))}
            </ul>
          </Panel>
        </>
      ) : null}
    </main>
  );
}
