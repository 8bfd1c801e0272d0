"use client";
/**
 * The session's data sets (/sessions/[id]/datasets): the bundled digits and every import, each with its images per
 * label as a bar strip; the import form (editors); and the imports under way in the session, pushed to everyone.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { useSessionLive } from "../_lib/live";
import { useTRPC } from "../_lib/trpc";
import { DatasetCard, ImportProgressList, type ImportState } from "./DatasetWidgets";
import { ImportForm, startedHere } from "./ImportForm";
import { Breadcrumb, Notice, Panel, Skeleton } from "./ui";

export function DatasetsPage({ sessionId }: { sessionId: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const list = useQuery(trpc.datasets.list.queryOptions({ sessionId }, { enabled: !!me }));
  const [imports, setImports] = useState<ImportState[]>([]);
  const refresh = useCallback(() => queryClient.invalidateQueries({ queryKey: trpc.datasets.list.queryKey({ sessionId }) }), [queryClient, trpc, sessionId]);
  useSessionLive(sessionId, null, {
    onDatasetProgress: (p) => {
      const ended = p.phase === "done" || p.phase === "failed";
      setImports((prev) => [...prev.filter((x) => x.importId !== p.importId), ...(ended && startedHere(p.importId) ? [] : [{ ...p }])]);
      if (p.phase === "done") void refresh();
    },
    onActivity: (a) => {
      if (a.kind.startsWith("dataset.")) void refresh();
    },
  });
  // Finished and failed imports leave the list of bars after a while.
  useEffect(() => {
    if (!imports.some((i) => i.phase === "done" || i.phase === "failed")) return;
    const t = setTimeout(() => setImports((prev) => prev.filter((i) => i.phase !== "done" && i.phase !== "failed")), 10_000);
    return () => clearTimeout(t);
  }, [imports]);
  const viewer = session.data?.role === "viewer";

  return (
    <main className="mx-auto flex max-w-[1100px] flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} />
      <div>
        <h1 className="text-2xl font-semibold">Data sets</h1>
        <p className="text-sm text-slate-400">
          Shared by everyone in this session. A run trains on one of them; the network adapts to its image size and labels.
        </p>
      </div>
      {session.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(session.error) === "FORBIDDEN" ? "You are not a member of this session." : errorMessage(session.error)}
        </Notice>
      ) : (
        <>
          {imports.length > 0 ? (
            <Panel title="Imports under way" id="imports">
              <ImportProgressList imports={imports} />
            </Panel>
          ) : null}
          {viewer ? (
            <Notice tone="warn">Viewers can look at the data sets; importing and deleting need the editor role.</Notice>
          ) : session.data ? (
            <Panel title="Import" id="import">
              <ImportForm sessionId={sessionId} onImported={(id) => router.push(`/sessions/${sessionId}/datasets/${id}`)} />
            </Panel>
          ) : null}
          {list.isPending ? (
            <Skeleton className="h-40" />
          ) : list.isError ? (
            <Notice tone="error" role="alert">
              {errorMessage(list.error)}
            </Notice>
          ) : (
            <ul className="grid gap-4 md:grid-cols-2" aria-label="Data sets" data-testid="dataset-list">
              {list.data.map((d) => (
                <DatasetCard key={d.id} sessionId={sessionId} d={d} />
              ))}
              {list.data.length === 1 ? (
                <li className="flex items-center justify-center rounded-xl border border-dashed border-slate-700 p-6 text-center text-sm text-slate-400">
                  No imported data sets yet: import one above.
                </li>
              ) : null}
            </ul>
          )}
        </>
      )}
    </main>
  );
}
