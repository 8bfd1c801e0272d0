"use client";
/**
 * The four networks of the spec as layer diagrams: Generator, DiscriminatorFake, DiscriminatorReal and
 * RuntimeGenerator share parameters by ParameterScope. Hover or focus a layer to light up its scope everywhere;
 * parts a network does not train are frozen in it, and a parameter whose LRateMultiplier is 0 is frozen everywhere.
 */
import { useState } from "react";
import type { RouterOutputs } from "../_lib/trpc";

type Params = RouterOutputs["runs"]["parameters"];
type Layer = Params["layers"]["generator"][number];

function shape(s: number[]) {
  return s.join("×");
}

export function NetworkView({ data }: { data: Params }) {
  const [scope, setScope] = useState<string | null>(null);
  const isZero = (scope: string, param: Params["scopes"][number]["params"][number]["name"]) => data.state.lrMultipliers[scope]?.[param] === 0;
  const frozenScopes = new Set(data.scopes.filter((s) => s.params.length > 0 && s.params.every((p) => isZero(s.scope, p.name))).map((s) => s.scope));
  const partlyFrozen = new Set(data.scopes.filter((s) => s.params.some((p) => isZero(s.scope, p.name))).map((s) => s.scope));
  const usedBy = new Map<string, number>();
  for (const n of data.networks)
    for (const part of n.parts) for (const l of data.layers[part]) if (l.scope) usedBy.set(l.scope, (usedBy.get(l.scope) ?? 0) + 1);

  return (
    <details className="group" data-testid="network-view">
      <summary className="cursor-pointer text-sm text-slate-300">
        {data.network}: {data.description || "network spec"} <span className="text-slate-500">(show the four networks)</span>
      </summary>
      <p className="mt-2 text-xs text-slate-500">
        Hover a layer to see where its ParameterScope is shared. <span className="text-sky-300">❄</span> frozen (LRateMultiplier 0); dimmed parts are frozen in
        that network.
      </p>
      <div className="mt-3 grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
        {data.networks.map((n) => (
          <figure key={n.name} className="flex flex-col gap-1 rounded-lg bg-slate-950/60 p-2 ring-1 ring-slate-800">
            <figcaption className="mb-1">
              <span className="block truncate font-semibold text-slate-200">{n.name}</span>
              <span className="block text-[11px] text-slate-500">
                {n.input === "noise" ? "z + label" : "image + label"} → {n.loss ? `${n.loss.type} vs ${n.loss.target}` : "image (inference)"}
              </span>
            </figcaption>
            {n.parts.map((part) => {
              // A network without a loss only infers: nothing in it is "frozen".
              const trains = !n.loss || n.trains.includes(part);
              return (
                <ol
                  key={part}
                  aria-label={`${part}${trains ? "" : " (frozen in this network)"}`}
                  className={`flex flex-col gap-0.5 rounded border-l-2 pl-1.5 ${trains ? "border-sky-500/60" : "border-slate-700 opacity-60"}`}
                >
                  <li className="text-[10px] uppercase tracking-wide text-slate-500">
                    {part}
                    {trains ? "" : " · frozen here"}
                  </li>
                  {data.layers[part].map((l: Layer) => (
                    <li key={l.index}>
                      <LayerChip
                        layer={l}
                        active={!!l.scope && l.scope === scope}
                        shared={!!l.scope && (usedBy.get(l.scope) ?? 0) > 1}
                        frozen={!!l.scope && frozenScopes.has(l.scope)}
                        partly={!!l.scope && partlyFrozen.has(l.scope)}
                        onScope={setScope}
                      />
                    </li>
                  ))}
                </ol>
              );
            })}
          </figure>
        ))}
      </div>
    </details>
  );
}

function LayerChip({
  layer,
  active,
  shared,
  frozen,
  partly,
  onScope,
}: {
  layer: Layer;
  active: boolean;
  shared: boolean;
  frozen: boolean;
  partly: boolean;
  onScope: (s: string | null) => void;
}) {
  const label = layer.type === "ConcatLabel" ? (layer.labelPlanes ? "ConcatLabel (planes)" : "ConcatLabel") : layer.type;
  // NNC names scopes after their layer type (Affine_2): show the type only when the scope does not say it.
  const typeNote = layer.scope && !layer.scope.startsWith(layer.type) ? layer.type : null;
  const base = "flex w-full items-center justify-between gap-1 rounded px-1.5 py-0.5 text-left text-[11px]";
  if (!layer.scope) {
    return (
      <div className={`${base} text-slate-500`}>
        <span>{label}</span>
        <span className="font-mono text-slate-600">{shape(layer.outShape)}</span>
      </div>
    );
  }
  return (
    <button
      type="button"
      onMouseEnter={() => onScope(layer.scope)}
      onMouseLeave={() => onScope(null)}
      onFocus={() => onScope(layer.scope)}
      onBlur={() => onScope(null)}
      aria-label={`${layer.type} ${layer.scope}, output ${shape(layer.outShape)}${frozen ? ", frozen" : partly ? ", partly frozen" : ""}${shared ? ", shared with other networks" : ""}`}
      className={`${base} ring-1 ring-inset ${active ? "bg-violet-500/30 ring-violet-400 text-white" : "bg-slate-800/70 ring-slate-700 text-slate-200"}`}
    >
      <span className="truncate">
        {frozen || partly ? <span className="mr-0.5 text-sky-300">❄</span> : null}
        {layer.scope}
        {typeNote ? <span className="text-slate-400"> {typeNote}</span> : null}
      </span>
      <span className="font-mono text-slate-500">{shape(layer.outShape)}</span>
    </button>
  );
}
