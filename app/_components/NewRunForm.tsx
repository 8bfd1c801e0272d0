"use client";
/**
 * A new run, as NNC's Config tab: network, MaxEpoch, BatchSize, Save Best, one optimizer α per training network,
 * seed, data set (the bundled digits or one the session imported: the network adapts to its images and labels) and
 * whether to compute diagnostics every epoch. The server validates the Config; its issues come back with their paths ("batchSize",
 * "optimizers.Generator.alpha") and show under the field they belong to.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage, issuesByPath } from "../_lib/errors";
import { ALPHA_MAX, SOLVERS, TRAINING_NETWORKS, type SolverName } from "../../lib/gan/vocabulary";
import { useTRPC } from "../_lib/trpc";
import { Breadcrumb, Button, Field, Notice, Panel, Select, Skeleton } from "./ui";

const NETWORKS = [
  { value: "nnc-dcgan-with-label", label: "nnc-dcgan-with-label — NNC's DCGAN with label (3.5 M parameters)" },
  { value: "small-dcgan", label: "small-dcgan — smaller conditional DCGAN, tanh output" },
];
const OPTIMIZED = TRAINING_NETWORKS;
type Solver = SolverName;
/** NNC's solvers with their default α (the Config's defaults: Adam 0.0005 as NNC's sample, the others 0.001) and label. */
const SOLVER_CHOICES: Record<Solver, { alpha: string; label: string }> = {
  Adam: { alpha: "0.0005", label: "Adam" },
  Sgd: { alpha: "0.001", label: "Sgd" },
  Momentum: { alpha: "0.001", label: "Momentum (0.9)" },
};
const defaultAlpha = (solver: Solver) => SOLVER_CHOICES[solver].alpha;

interface FormState {
  name: string;
  network: string;
  dataset: string;
  maxEpoch: string;
  batchSize: string;
  saveBest: boolean;
  diagnostics: boolean;
  seed: string;
  alpha: Record<(typeof OPTIMIZED)[number], string>;
  solver: Record<(typeof OPTIMIZED)[number], Solver>;
  /** Adam's β1, β2 and ε, for every network that uses Adam. */
  adam: { beta1: string; beta2: string; eps: string };
  limit: string;
  sampleColumns: string;
  checkpointEvery: string;
}

const DEFAULTS: FormState = {
  name: "",
  network: "nnc-dcgan-with-label",
  dataset: "mnist-bundled",
  maxEpoch: "100",
  batchSize: "64",
  saveBest: false,
  diagnostics: true,
  seed: "1",
  alpha: { Generator: "0.0005", DiscriminatorFake: "0.0005", DiscriminatorReal: "0.0005" },
  solver: { Generator: "Adam", DiscriminatorFake: "Adam", DiscriminatorReal: "Adam" },
  adam: { beta1: "0.5", beta2: "0.999", eps: "1e-8" },
  limit: "0",
  sampleColumns: "10",
  checkpointEvery: "1",
};

/** A number field's value for the Config: empty means "use the default"; anything else goes to the server as typed. */
function numeric(v: string): number | string | undefined {
  const t = v.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

function toConfig(f: FormState): Record<string, unknown> {
  const config: Record<string, unknown> = {
    network: f.network,
    dataset: f.dataset,
    saveBest: f.saveBest,
    diagnostics: f.diagnostics,
    optimizers: Object.fromEntries(
      OPTIMIZED.map((n) => {
        const alpha = numeric(f.alpha[n]);
        const adam =
          f.solver[n] === "Adam"
            ? Object.fromEntries((["beta1", "beta2", "eps"] as const).flatMap((k) => (numeric(f.adam[k]) !== undefined ? [[k, numeric(f.adam[k])]] : [])))
            : {};
        return [n, { type: f.solver[n], ...(alpha !== undefined ? { alpha } : {}), ...adam }];
      }),
    ),
  };
  for (const key of ["maxEpoch", "batchSize", "seed", "limit", "sampleColumns", "checkpointEvery"] as const) {
    const v = numeric(f[key]);
    if (v !== undefined) config[key] = v;
  }
  return config;
}

export function NewRunForm({ sessionId, initialDataset = null }: { sessionId: string; initialDataset?: string | null }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const datasets = useQuery(trpc.datasets.list.queryOptions({ sessionId }, { enabled: !!me }));
  const [f, setF] = useState<FormState>(() => ({ ...DEFAULTS, dataset: initialDataset ?? DEFAULTS.dataset }));
  const chosen = datasets.data?.find((d) => d.id === f.dataset);
  const create = useMutation(
    trpc.runs.create.mutationOptions({
      onSuccess: async (run) => {
        await queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ sessionId }) });
        router.push(`/sessions/${sessionId}?run=${run.id}`);
      },
    }),
  );
  const errors = issuesByPath(create.error);
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setF((prev) => ({ ...prev, [key]: value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ sessionId, name: f.name, config: toConfig(f) });
  };
  const viewer = session.data?.role === "viewer";
  /** The first error about an Adam setting, whichever network it came from. */
  const adamError = (k: "beta1" | "beta2" | "eps") => OPTIMIZED.map((n) => errors[`optimizers.${n}.${k}`]).find(Boolean);
  const otherErrors = Object.entries(errors).filter(
    ([path]) =>
      !["name", "network", "dataset", "maxEpoch", "batchSize", "saveBest", "diagnostics", "seed", "limit", "sampleColumns", "checkpointEvery"].includes(path) &&
      !path.startsWith("optimizers."),
  );

  return (
    <main className="mx-auto flex max-w-3xl flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} />
      <h1 className="text-2xl font-semibold">New run</h1>
      {session.isPending ? (
        <Skeleton className="h-96" />
      ) : session.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(session.error) === "FORBIDDEN" ? "You are not a member of this session." : errorMessage(session.error)}
        </Notice>
      ) : viewer ? (
        <Notice tone="warn">Viewers can watch and generate; ask the owner for the editor role to create runs.</Notice>
      ) : (
        <form onSubmit={submit} noValidate className="flex flex-col gap-5">
          <Panel title="Run">
            <div className="grid gap-4 sm:grid-cols-2">
              <Field
                id="run-name"
                label="Name"
                placeholder="e.g. baseline"
                value={f.name}
                onChange={(e) => set("name", e.target.value)}
                error={errors.name}
                className="sm:col-span-2"
              />
              <Select
                id="run-network"
                label="Network"
                value={f.network}
                onChange={(e) => set("network", e.target.value)}
                error={errors.network}
                className="sm:col-span-2"
              >
                {NETWORKS.map((n) => (
                  <option key={n.value} value={n.value}>
                    {n.label}
                  </option>
                ))}
              </Select>
              <div className="flex min-w-0 flex-col gap-1">
                <Select id="run-dataset" label="Data set" value={f.dataset} onChange={(e) => set("dataset", e.target.value)} error={errors.dataset}>
                  {(datasets.data ?? [{ id: "mnist-bundled", name: "MNIST digits (bundled)", count: 10_000 }]).map((d) => (
                    <option key={d.id} value={d.id}>
                      {d.name} — {d.count.toLocaleString()} images
                    </option>
                  ))}
                  {datasets.data && !datasets.data.some((d) => d.id === f.dataset) ? (
                    <option value={f.dataset}>{f.dataset} (not in this session)</option>
                  ) : null}
                </Select>
                <p className="text-xs text-slate-500" data-testid="run-dataset-shape">
                  {chosen ? `${chosen.imageShape.join("×")} images, ${chosen.numLabels} labels: the network adapts to them. ` : ""}
                  <Link href={`/sessions/${sessionId}/datasets`} className="underline hover:text-slate-300">
                    Import a data set
                  </Link>
                </p>
              </div>
              <Field id="run-seed" label="Seed" inputMode="numeric" value={f.seed} onChange={(e) => set("seed", e.target.value)} error={errors.seed} />
            </div>
          </Panel>
          <Panel title="Config">
            <div className="grid gap-4 sm:grid-cols-3">
              <Field
                id="run-maxEpoch"
                label="MaxEpoch"
                inputMode="numeric"
                value={f.maxEpoch}
                onChange={(e) => set("maxEpoch", e.target.value)}
                error={errors.maxEpoch}
              />
              <Field
                id="run-batchSize"
                label="BatchSize"
                inputMode="numeric"
                value={f.batchSize}
                onChange={(e) => set("batchSize", e.target.value)}
                error={errors.batchSize}
              />
              <div className="flex flex-col gap-1">
                <span className="text-sm font-medium text-slate-300">Save Best</span>
                <label className="flex min-h-9 items-center gap-2 text-sm text-slate-200">
                  <input
                    id="run-saveBest"
                    type="checkbox"
                    checked={f.saveBest}
                    onChange={(e) => set("saveBest", e.target.checked)}
                    className="h-4 w-4 accent-sky-500"
                  />
                  Keep the lowest-loss epoch too
                </label>
                <p className="text-xs text-slate-500">Off: the last epoch is the result (a GAN&apos;s lowest loss is not its best).</p>
              </div>
              <div className="flex flex-col gap-1 sm:col-span-3">
                <span className="text-sm font-medium text-slate-300">Diagnostics</span>
                <label className="flex min-h-9 items-center gap-2 text-sm text-slate-200">
                  <input
                    id="run-diagnostics"
                    type="checkbox"
                    checked={f.diagnostics}
                    onChange={(e) => set("diagnostics", e.target.checked)}
                    className="h-4 w-4 accent-sky-500"
                  />
                  Measure label accuracy, coverage, Fréchet distance and collapse every epoch
                </label>
                <p className="text-xs text-slate-500">
                  About 2% of an epoch; the first run on a data set first trains its evaluator (about 40 s for the digits), then it is cached.
                  {errors.diagnostics ? <span className="text-rose-300"> {errors.diagnostics}</span> : null}
                </p>
              </div>
            </div>
          </Panel>
          <Panel
            title={
              <>
                Optimizer and <span className="normal-case">α</span> per network
              </>
            }
          >
            <div className="grid gap-4 sm:grid-cols-3">
              {OPTIMIZED.map((n) => (
                <div key={n} className="flex min-w-0 flex-col gap-2" data-testid={`optimizer-${n}`}>
                  <Select
                    id={`run-solver-${n}`}
                    label={`${n} solver`}
                    value={f.solver[n]}
                    onChange={(e) => {
                      const solver = e.target.value as Solver;
                      // A new solver starts from its own default α unless α was edited.
                      setF((prev) => ({
                        ...prev,
                        solver: { ...prev.solver, [n]: solver },
                        alpha: { ...prev.alpha, [n]: prev.alpha[n] === defaultAlpha(prev.solver[n]) ? defaultAlpha(solver) : prev.alpha[n] },
                      }));
                    }}
                    error={errors[`optimizers.${n}.type`]}
                  >
                    {SOLVERS.map((solver) => (
                      <option key={solver} value={solver}>
                        {SOLVER_CHOICES[solver].label}
                      </option>
                    ))}
                  </Select>
                  <Field
                    id={`run-alpha-${n}`}
                    label={`${n} α`}
                    hint={`above 0, at most ${ALPHA_MAX[f.solver[n]]}`}
                    inputMode="decimal"
                    value={f.alpha[n]}
                    onChange={(e) => setF((prev) => ({ ...prev, alpha: { ...prev.alpha, [n]: e.target.value } }))}
                    error={errors[`optimizers.${n}.alpha`] ?? errors[`optimizers.${n}`]}
                  />
                </div>
              ))}
            </div>
            <p className="mt-2 text-xs text-slate-500">
              Adam with β1 0.5, β2 0.999, ε 1e-8 as in NNC&apos;s sample (changed below); Momentum 0.9. α can be changed while the run trains.
            </p>
          </Panel>
          <details
            open={
              errors.limit || errors.sampleColumns || errors.checkpointEvery || adamError("beta1") || adamError("beta2") || adamError("eps") ? true : undefined
            }
            className="rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800"
          >
            <summary className="cursor-pointer text-sm font-semibold uppercase tracking-wide text-slate-400">Advanced</summary>
            <div className="mt-4 grid gap-4 sm:grid-cols-3">
              <Field
                id="run-limit"
                label="Train on first N images"
                hint="0: all of them"
                inputMode="numeric"
                value={f.limit}
                onChange={(e) => set("limit", e.target.value)}
                error={errors.limit}
              />
              <Field
                id="run-sampleColumns"
                label="Sample grid columns"
                inputMode="numeric"
                value={f.sampleColumns}
                onChange={(e) => set("sampleColumns", e.target.value)}
                error={errors.sampleColumns}
              />
              <Field
                id="run-checkpointEvery"
                label="Checkpoint every N epochs"
                inputMode="numeric"
                value={f.checkpointEvery}
                onChange={(e) => set("checkpointEvery", e.target.value)}
                error={errors.checkpointEvery}
              />
              {(["beta1", "beta2", "eps"] as const).map((k) => (
                <Field
                  key={k}
                  id={`run-adam-${k}`}
                  label={`Adam ${k === "eps" ? "ε" : k === "beta1" ? "β1" : "β2"}`}
                  hint="every network on Adam"
                  inputMode="decimal"
                  value={f.adam[k]}
                  onChange={(e) => setF((prev) => ({ ...prev, adam: { ...prev.adam, [k]: e.target.value } }))}
                  error={adamError(k)}
                />
              ))}
            </div>
          </details>
          {create.error ? (
            <Notice tone="error" role="alert">
              {errorMessage(create.error)}
              {otherErrors.length > 0 ? (
                <ul className="mt-1 list-disc pl-5">
                  {otherErrors.map(([path, message]) => (
                    <li key={path}>
                      {path}: {message}
                    </li>
                  ))}
                </ul>
              ) : null}
            </Notice>
          ) : null}
          <div className="flex gap-3">
            <Button type="submit" tone="primary" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create run"}
            </Button>
            <Link href={`/sessions/${sessionId}`} className="inline-flex min-h-9 items-center rounded-md px-3 text-sm text-slate-300 hover:bg-slate-800">
              Cancel
            </Link>
          </div>
        </form>
      )}
    </main>
  );
}
