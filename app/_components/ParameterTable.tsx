"use client";
/**
 * Every ParameterScope, grouped by network part, with each trained parameter's LRateMultiplier (editable; 0 freezes
 * it) and each training network's optimizer α. A change takes effect at the next iteration and reaches everyone
 * as a `run:parameters` push, applied to this table's data with applyControl (SessionView); the cell then shows who
 * made it. Viewers see the inputs disabled, and why.
 */
import { useMutation } from "@tanstack/react-query";
import { useEffect, useState, type KeyboardEvent } from "react";
import { TRAINING_NETWORKS } from "../../lib/gan/vocabulary";
import type { ChangedBy } from "../../lib/protocol/parameters";
import { errorMessage } from "../_lib/errors";
import { timeAgo } from "../_lib/format";
import { useTRPC, type RouterOutputs } from "../_lib/trpc";
import { useTick } from "../_lib/useTick";
import { VIEWER_REASON } from "./RunControls";
import { Button, Notice } from "./ui";

type Params = RouterOutputs["runs"]["parameters"];
type Change = ChangedBy | undefined;

const PARTS = [
  { part: "generator", title: "Generator part" },
  { part: "discriminator", title: "Discriminator part" },
] as const;

function LastChange({ change }: { change: Change }) {
  if (!change) return <span className="text-slate-600">—</span>;
  return (
    <span
      key={change.at}
      className="flash inline-flex rounded px-0.5 text-slate-300"
      title={`${change.userName ?? "the trainer"} at ${new Date(change.at).toLocaleTimeString()}${change.iteration !== null ? `, iteration ${change.iteration}` : ""}`}
    >
      {change.userName ?? "trainer"} · {timeAgo(change.at)}
    </span>
  );
}

export function ParameterTable({ runId, data, canEdit, live, paused }: { runId: string; data: Params; canEdit: boolean; live: boolean; paused: boolean }) {
  const trpc = useTRPC();
  useTick(5000);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [pending, setPending] = useState<Record<string, number>>({});
  const [error, setError] = useState<unknown>(null);
  const setLr = useMutation(trpc.runs.setLrMultiplier.mutationOptions());
  const setAlpha = useMutation(trpc.runs.setAlpha.mutationOptions());
  const setFrozen = useMutation(trpc.runs.setFrozen.mutationOptions());
  const enabled = canEdit && live;

  const { state } = data;
  const lrOf = (scope: string, param: Params["scopes"][number]["params"][number]["name"]) => state.lrMultipliers[scope]?.[param] ?? 1;
  const optimizers = TRAINING_NETWORKS.flatMap((network) => {
    const o = state.optimizers[network];
    return o ? [{ network, ...o, lastChange: state.lastChange.optimizers[network] }] : [];
  });
  const current = new Map<string, number>();
  for (const s of data.scopes) for (const p of s.params) current.set(`${s.scope}/${p.name}`, lrOf(s.scope, p.name));
  for (const o of optimizers) current.set(`alpha/${o.network}`, o.alpha);

  // A pending change is done once the pushed value arrives.
  useEffect(() => {
    setPending((prev) => {
      const next = Object.fromEntries(Object.entries(prev).filter(([k, v]) => current.get(k) !== v));
      return Object.keys(next).length === Object.keys(prev).length ? prev : next;
    });
  });

  const clearDraft = (key: string) =>
    setDrafts((d) => {
      const { [key]: _, ...rest } = d;
      return rest;
    });

  const commit = (key: string, raw: string, send: (value: number) => Promise<unknown>) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) {
      setError(new Error(`${key.replace("alpha/", "α of ")}: enter a number`));
      clearDraft(key);
      return;
    }
    if (value === (pending[key] ?? current.get(key))) return clearDraft(key);
    setError(null);
    setPending((p) => ({ ...p, [key]: value }));
    clearDraft(key);
    send(value).catch((e: unknown) => {
      setError(e);
      setPending((p) => {
        const { [key]: _, ...rest } = p;
        return rest;
      });
    });
  };

  const commitLr = (scope: string, param: "W" | "b" | "beta" | "gamma", raw: string) =>
    commit(`${scope}/${param}`, raw, (value) => setLr.mutateAsync({ runId, scope, param, value }));
  const commitAlpha = (network: "Generator" | "DiscriminatorFake" | "DiscriminatorReal", raw: string) =>
    commit(`alpha/${network}`, raw, (alpha) => setAlpha.mutateAsync({ runId, network, alpha }));

  const onKey = (e: KeyboardEvent<HTMLInputElement>, key: string) => {
    if (e.key === "Enter") (e.target as HTMLInputElement).blur();
    if (e.key === "Escape") {
      clearDraft(key);
      (e.target as HTMLInputElement).blur();
    }
  };
  const shown = (key: string) => drafts[key] ?? String(pending[key] ?? current.get(key) ?? "");
  const disabledWhy = !canEdit ? VIEWER_REASON : !live ? "Start or resume the run to change LRateMultipliers and α: they apply while it trains." : undefined;

  return (
    <div className="flex flex-col gap-4" data-testid="parameter-table">
      {disabledWhy ? (
        <p className="text-xs text-slate-400" data-testid="parameters-disabled-reason">
          {disabledWhy}
        </p>
      ) : null}
      {Object.keys(pending).length > 0 && paused ? <Notice tone="info">Changes apply at the next iteration: resume the run to apply them.</Notice> : null}
      {error ? (
        <Notice tone="error" role="alert">
          {errorMessage(error)}
        </Notice>
      ) : null}

      {PARTS.map(({ part, title }) => {
        const scopes = data.scopes.filter((s) => s.part === part);
        const all = scopes.flatMap((s) => s.params.map((p) => lrOf(s.scope, p.name)));
        const frozen = all.length > 0 && all.every((v) => v === 0);
        const columns = Math.max(...scopes.map((s) => s.params.length), 1);
        return (
          <div key={part} className="overflow-x-auto">
            <table className="block w-full border-separate border-spacing-0 text-sm sm:table sm:table-fixed">
              <caption className="mb-1 block text-left sm:table-caption">
                <div className="flex items-center justify-between gap-2">
                  <span className="font-semibold text-slate-200">
                    {title} {frozen ? <span className="ml-1 rounded bg-sky-500/15 px-1.5 py-0.5 text-xs text-sky-200">frozen</span> : null}
                  </span>
                  <Button
                    tone="ghost"
                    className="text-xs"
                    disabled={!enabled || setFrozen.isPending}
                    title={disabledWhy}
                    onClick={() => setFrozen.mutate({ runId, part, frozen: !frozen }, { onError: setError })}
                  >
                    {frozen ? `Unfreeze the ${part}` : `Freeze the ${part}`}
                  </Button>
                </div>
              </caption>
              <colgroup className="hidden sm:table-column-group">
                <col className="w-48" />
                {Array.from({ length: columns }, (_, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the columns of a fixed grid: the index is the column
                  <col key={i} />
                ))}
              </colgroup>
              <thead className="hidden sm:table-header-group">
                <tr className="text-left text-xs text-slate-500">
                  <th scope="col" className="border-b border-slate-800 py-1.5 pr-2 font-medium">
                    ParameterScope
                  </th>
                  <th scope="col" colSpan={columns} className="border-b border-slate-800 py-1.5 font-medium">
                    LRateMultiplier per parameter <span className="font-normal text-slate-600">(0 freezes it)</span>
                  </th>
                </tr>
              </thead>
              <tbody className="block sm:table-row-group">
                {scopes.map((s) => (
                  <tr key={s.scope} data-testid={`scope-${s.scope}`} className="flex flex-wrap gap-x-4 border-b border-slate-800/70 py-2 sm:table-row sm:py-0">
                    <th
                      scope="row"
                      className="block w-full pr-2 text-left align-top font-medium text-slate-200 sm:table-cell sm:w-auto sm:border-b sm:border-slate-800/70 sm:py-2"
                    >
                      {s.scope}
                      {s.scope.startsWith(s.layerType) ? null : <span className="ml-1 text-xs font-normal text-slate-500 sm:ml-0 sm:block">{s.layerType}</span>}
                    </th>
                    {s.params.map((p) => {
                      const key = `${s.scope}/${p.name}`;
                      const value = pending[key] ?? lrOf(s.scope, p.name);
                      const lastChange = state.lastChange.lrMultipliers[s.scope]?.[p.name];
                      return (
                        <td
                          key={key}
                          className={`block w-[calc(50%-0.5rem)] rounded py-1 pr-1 align-top sm:table-cell sm:w-auto sm:pr-3 sm:rounded-none sm:border-b sm:border-slate-800/70 sm:py-2 ${value === 0 ? "bg-sky-500/5" : ""}`}
                          data-testid={`param-${s.scope}-${p.name}`}
                        >
                          <div className="flex items-center gap-1.5">
                            <span className="w-11 shrink-0 font-mono text-slate-300">{p.name}</span>
                            <input
                              type="text"
                              inputMode="decimal"
                              aria-label={`LRateMultiplier of ${s.scope} ${p.name}`}
                              data-testid={`lr-${s.scope}-${p.name}`}
                              disabled={!enabled}
                              title={disabledWhy}
                              value={shown(key)}
                              onChange={(e) => setDrafts((d) => ({ ...d, [key]: e.target.value }))}
                              onBlur={(e) => drafts[key] !== undefined && commitLr(s.scope, p.name, e.target.value)}
                              onKeyDown={(e) => onKey(e, key)}
                              className="w-14 min-w-0 rounded bg-slate-950 px-2 py-1 font-mono tabular-nums ring-1 sm:w-16 ring-inset ring-slate-700 disabled:text-slate-400 disabled:ring-slate-800"
                            />
                            <label
                              className={`flex items-center gap-1 rounded px-1 py-0.5 text-xs ${value === 0 ? "text-sky-200" : "text-slate-500"}`}
                              title={disabledWhy ?? "LRateMultiplier 0: this parameter stops learning"}
                            >
                              <input
                                type="checkbox"
                                aria-label={`Freeze ${s.scope} ${p.name}`}
                                data-testid={`freeze-${s.scope}-${p.name}`}
                                checked={value === 0}
                                disabled={!enabled}
                                onChange={(e) => commitLr(s.scope, p.name, e.target.checked ? "0" : "1")}
                                className="h-3.5 w-3.5 accent-sky-500"
                              />
                              <span aria-hidden>❄</span>
                            </label>
                          </div>
                          <p className="mt-0.5 text-[11px] text-slate-500 sm:pl-[2.875rem]" data-testid={`change-${s.scope}-${p.name}`}>
                            <span className="font-mono">{p.shape.join("×")}</span>
                            {pending[key] !== undefined ? <span className="ml-1 text-amber-300">· pending</span> : null}
                            {lastChange ? (
                              <>
                                {" · "}
                                <LastChange change={lastChange} />
                              </>
                            ) : null}
                          </p>
                        </td>
                      );
                    })}
                    {s.params.length < columns ? (
                      <td colSpan={columns - s.params.length} className="hidden sm:table-cell sm:border-b sm:border-slate-800/70" />
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      })}

      <div className="overflow-x-auto">
        <table className="w-full min-w-[480px] border-separate border-spacing-0 text-sm">
          <caption className="mb-2 text-left font-semibold text-slate-200">Optimizer α per network</caption>
          <thead>
            <tr className="text-left text-xs text-slate-500">
              <th scope="col" className="w-44 border-b border-slate-800 py-1.5 pr-2 font-medium">
                Network
              </th>
              <th scope="col" className="border-b border-slate-800 py-1.5 pr-2 font-medium">
                Solver
              </th>
              <th scope="col" className="border-b border-slate-800 py-1.5 pr-2 font-medium normal-case">
                α
              </th>
              <th scope="col" className="border-b border-slate-800 py-1.5 font-medium">
                Last change
              </th>
            </tr>
          </thead>
          <tbody>
            {optimizers.map((o) => {
              const key = `alpha/${o.network}`;
              return (
                <tr key={o.network}>
                  <th scope="row" className="border-b border-slate-800/70 py-1.5 pr-2 text-left font-medium text-slate-200">
                    {o.network}
                  </th>
                  <td className="border-b border-slate-800/70 py-1.5 pr-2 text-slate-400">{o.type}</td>
                  <td className="border-b border-slate-800/70 py-1.5 pr-2">
                    <input
                      type="text"
                      inputMode="decimal"
                      aria-label={`α of ${o.network}`}
                      data-testid={`alpha-${o.network}`}
                      disabled={!enabled}
                      title={disabledWhy}
                      value={shown(key)}
                      onChange={(e) => setDrafts((d) => ({ ...d, [key]: e.target.value }))}
                      onBlur={(e) => drafts[key] !== undefined && commitAlpha(o.network, e.target.value)}
                      onKeyDown={(e) => onKey(e, key)}
                      className="w-28 rounded bg-slate-950 px-2 py-1 font-mono tabular-nums ring-1 ring-inset ring-slate-700 disabled:text-slate-400 disabled:ring-slate-800"
                    />
                    {pending[key] !== undefined ? <span className="ml-1 text-xs text-amber-300">pending</span> : null}
                  </td>
                  <td className="border-b border-slate-800/70 py-1.5 text-xs">
                    <LastChange change={o.lastChange} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
