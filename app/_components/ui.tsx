/**
 * Small building blocks with one look: buttons, fields, avatars, notices. No state, so they render anywhere.
 */
import Link from "next/link";
import type { ButtonHTMLAttributes, InputHTMLAttributes, ReactNode, SelectHTMLAttributes } from "react";
import type { RunStatus } from "../../lib/gan/vocabulary";
import { hueOf, initials } from "../_lib/format";

type Tone = "primary" | "neutral" | "danger" | "ghost";

const TONES: Record<Tone, string> = {
  primary: "bg-sky-500 text-slate-950 hover:bg-sky-400 disabled:bg-slate-700 disabled:text-slate-400",
  neutral: "bg-slate-800 text-slate-100 hover:bg-slate-700 ring-1 ring-inset ring-slate-700 disabled:text-slate-500 disabled:hover:bg-slate-800",
  danger:
    "bg-rose-500/15 text-rose-200 ring-1 ring-inset ring-rose-500/40 hover:bg-rose-500/25 disabled:text-slate-500 disabled:ring-slate-700 disabled:bg-slate-800",
  ghost: "text-slate-300 hover:bg-slate-800 hover:text-white disabled:text-slate-600",
};

export function Button({ tone = "neutral", className = "", ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { tone?: Tone }) {
  return (
    <button
      type="button"
      {...props}
      className={`inline-flex min-h-9 items-center justify-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium transition-colors disabled:cursor-not-allowed ${TONES[tone]} ${className}`}
    />
  );
}

/** A form control with its label, its hint and its error (under it, tied to it by aria-describedby). */
function Labelled({
  id,
  label,
  error,
  hint,
  className,
  children,
}: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
  className: string;
  children: ReactNode;
}) {
  return (
    <div className={`flex min-w-0 flex-col gap-1 ${className}`}>
      <label htmlFor={id} className="text-sm font-medium text-slate-300">
        {label}
      </label>
      {children}
      {hint && !error ? (
        <p id={`${id}-hint`} className="text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="text-xs text-rose-300 first-letter:uppercase" data-field-error={id}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

const describedBy = (id: string, error: string | undefined, hint: ReactNode) =>
  [error ? `${id}-error` : null, hint && !error ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;

export function Field({
  label,
  error,
  hint,
  id,
  className = "",
  ...props
}: InputHTMLAttributes<HTMLInputElement> & { label: string; error?: string | undefined; hint?: ReactNode; id: string }) {
  return (
    <Labelled id={id} label={label} error={error} hint={hint} className={className}>
      <input
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, hint)}
        {...props}
        className={`min-h-9 w-full min-w-0 rounded-md bg-slate-900 px-3 py-1.5 text-slate-100 ring-1 ring-inset placeholder:text-slate-500 ${error ? "ring-rose-500" : "ring-slate-700 focus:ring-sky-500"}`}
      />
    </Labelled>
  );
}

export function Select({
  label,
  id,
  error,
  children,
  className = "",
  ...props
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; id: string; error?: string | undefined }) {
  return (
    <Labelled id={id} label={label} error={error} className={className}>
      <select
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, undefined)}
        {...props}
        className={`min-h-9 w-full min-w-0 truncate rounded-md bg-slate-900 px-2 py-1.5 text-slate-100 ring-1 ring-inset ${error ? "ring-rose-500" : "ring-slate-700"}`}
      >
        {children}
      </select>
    </Labelled>
  );
}

export function Avatar({ name, id, size = "md", title }: { name: string; id: string; size?: "sm" | "md"; title?: string }) {
  const hue = hueOf(id);
  const dims = size === "sm" ? "h-6 w-6 text-[10px]" : "h-8 w-8 text-xs";
  return (
    <span
      title={title ?? name}
      aria-label={title ?? name}
      role="img"
      className={`inline-flex shrink-0 items-center justify-center rounded-full font-semibold ring-2 ring-slate-950 ${dims}`}
      style={{ backgroundColor: `hsl(${hue} 55% 35%)`, color: `hsl(${hue} 90% 92%)` }}
    >
      {initials(name)}
    </span>
  );
}

export function Panel({
  title,
  actions,
  children,
  className = "",
  id,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  id?: string;
}) {
  return (
    <section aria-labelledby={id && title ? `${id}-title` : undefined} className={`rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800 ${className}`}>
      {title || actions ? (
        <div className="mb-3 flex items-center justify-between gap-2">
          {title ? (
            <h2 id={id ? `${id}-title` : undefined} className="text-sm font-semibold uppercase tracking-wide text-slate-400">
              {title}
            </h2>
          ) : (
            <span />
          )}
          {actions}
        </div>
      ) : null}
      {children}
    </section>
  );
}

export function Notice({ tone = "info", children, role }: { tone?: "info" | "warn" | "error"; children: ReactNode; role?: "status" | "alert" }) {
  const tones = {
    info: "bg-sky-500/10 text-sky-100 ring-sky-500/30",
    warn: "bg-amber-500/10 text-amber-100 ring-amber-500/30",
    error: "bg-rose-500/10 text-rose-100 ring-rose-500/40",
  };
  return (
    <div role={role} className={`rounded-lg px-3 py-2 text-sm ring-1 ring-inset ${tones[tone]}`}>
      {children}
    </div>
  );
}

/** A tone for every run status of the vocabulary (a status it gains without a tone here fails the type check). */
const STATUS_TONES: Record<RunStatus, string> = {
  running: "bg-emerald-500/15 text-emerald-300 ring-emerald-500/40",
  paused: "bg-amber-500/15 text-amber-200 ring-amber-500/40",
  idle: "bg-slate-700/40 text-slate-300 ring-slate-600",
  queued: "bg-violet-500/15 text-violet-200 ring-violet-500/40",
  completed: "bg-sky-500/15 text-sky-200 ring-sky-500/40",
  stopped: "bg-slate-700/40 text-slate-200 ring-slate-500",
  failed: "bg-rose-500/15 text-rose-200 ring-rose-500/40",
  interrupted: "bg-orange-500/15 text-orange-200 ring-orange-500/40",
};

/** A run's status as a badge; `label` replaces the status's name (e.g. "queued, 2 ahead"). */
export function StatusBadge({ status, testId, label }: { status: string; testId?: string; label?: string }) {
  return (
    <span
      data-testid={testId}
      className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${(STATUS_TONES as Record<string, string | undefined>)[status] ?? STATUS_TONES.idle}`}
    >
      {status === "running" ? <span aria-hidden className="h-1.5 w-1.5 motion-safe:animate-pulse rounded-full bg-emerald-400" /> : null}
      {label ?? status}
    </span>
  );
}

export function Skeleton({ className = "" }: { className?: string }) {
  return <div aria-hidden className={`motion-safe:animate-pulse rounded-md bg-slate-800/80 ${className}`} />;
}

/** The way back: the session, then any pages between it and this one. */
export function Breadcrumb({
  sessionId,
  sessionName,
  trail = [],
}: {
  sessionId: string;
  sessionName: string | undefined;
  trail?: { href: string; label: string }[];
}) {
  return (
    <nav aria-label="Breadcrumb" className="flex gap-2 text-sm text-slate-400">
      <Link href={`/sessions/${sessionId}`} className="hover:text-white">
        ← {sessionName ?? "Session"}
      </Link>
      {trail.map((t) => (
        <span key={t.href} className="flex gap-2">
          <span aria-hidden>/</span>
          <Link href={t.href} className="hover:text-white">
            {t.label}
          </Link>
        </span>
      ))}
    </nav>
  );
}
