"use client";
/**
 * The owner's members and invites: each member's role (editor ⇄ viewer) and removal; invite links (viewer or
 * editor, expiring after 1, 7 or 30 days, optionally good for a number of people), each shown once to copy and send;
 * links still usable are listed (role, who made it, when, when it expires, uses) and can be revoked, after which
 * they stop working at once.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../_lib/errors";
import { timeAgo } from "../_lib/format";
import { expiresIn } from "../_lib/invites";
import { useTRPC } from "../_lib/trpc";
import { Button, Notice, Select } from "./ui";

interface Member {
  userId: string;
  name: string;
  email: string;
  role: string;
}

export function InvitePanel({ sessionId, members }: { sessionId: string; members: Member[] }) {
  const trpc = useTRPC();
  const [role, setRole] = useState<"viewer" | "editor">("viewer");
  const [days, setDays] = useState(7);
  const [maxUses, setMaxUses] = useState("");
  const [copied, setCopied] = useState(false);
  const queryClient = useQueryClient();
  const invites = useQuery(trpc.sessions.invites.queryOptions({ sessionId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.sessions.invites.queryKey({ sessionId }) });
  const create = useMutation(
    trpc.sessions.createInvite.mutationOptions({
      onSuccess: () => {
        setCopied(false);
        void refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.sessions.revokeInvite.mutationOptions({ onSuccess: () => void refresh() }));
  const refreshSession = () => queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ sessionId }) });
  const changeRole = useMutation(trpc.sessions.setRole.mutationOptions({ onSuccess: () => refreshSession() }));
  const removeMember = useMutation(trpc.sessions.removeMember.mutationOptions({ onSuccess: () => refreshSession() }));
  const usable = (i: { revokedAt: string | null; expiresAt: string | null; maxUses: number | null; uses: number }) =>
    !i.revokedAt && (i.expiresAt === null || new Date(i.expiresAt).getTime() > Date.now()) && (i.maxUses === null || i.uses < i.maxUses);
  const active = invites.data?.filter(usable) ?? [];
  const uses = Number(maxUses);
  const usesValid = maxUses.trim() === "" || (Number.isInteger(uses) && uses >= 1 && uses <= 1000);
  const link = create.data ? `${window.location.origin}${create.data.path}` : null;
  return (
    <div className="flex flex-col gap-3">
      <ul className="flex flex-col divide-y divide-slate-800 text-sm" aria-label="Members" data-testid="member-list">
        {members.map((m) => (
          <li key={m.userId} className="flex items-center justify-between gap-2 py-1">
            <span className="min-w-0 truncate text-slate-200" title={m.email}>
              {m.name}
            </span>
            {m.role === "owner" ? (
              <span className="text-xs text-slate-400">owner</span>
            ) : (
              <span className="flex items-center gap-1">
                <select
                  aria-label={`Role of ${m.name}`}
                  value={m.role}
                  disabled={changeRole.isPending}
                  onChange={(e) => changeRole.mutate({ sessionId, userId: m.userId, role: e.target.value as "editor" | "viewer" })}
                  className="min-h-8 rounded-md bg-slate-900 px-1 text-xs ring-1 ring-inset ring-slate-700"
                >
                  <option value="editor">editor</option>
                  <option value="viewer">viewer</option>
                </select>
                <Button
                  tone="ghost"
                  className="text-rose-300"
                  disabled={removeMember.isPending}
                  aria-label={`Remove ${m.name} from the session`}
                  onClick={() => {
                    if (window.confirm(`Remove ${m.name} from this session? Their open pages lose access at once.`))
                      removeMember.mutate({ sessionId, userId: m.userId });
                  }}
                >
                  Remove
                </Button>
              </span>
            )}
          </li>
        ))}
      </ul>
      <div className="flex flex-wrap items-end gap-2">
        <Select id="invite-role" label="Role" value={role} onChange={(e) => setRole(e.target.value as "viewer" | "editor")}>
          <option value="viewer">viewer — watches and generates</option>
          <option value="editor">editor — also steers runs</option>
        </Select>
        <Select id="invite-expiry" label="Expires after" value={days} onChange={(e) => setDays(Number(e.target.value))}>
          <option value={1}>1 day</option>
          <option value={7}>7 days</option>
          <option value={30}>30 days</option>
        </Select>
        <div className="flex flex-col gap-1">
          <label htmlFor="invite-uses" className="text-sm font-medium text-slate-300">
            People (optional)
          </label>
          <input
            id="invite-uses"
            type="number"
            min={1}
            max={1000}
            inputMode="numeric"
            placeholder="any"
            value={maxUses}
            aria-invalid={usesValid ? undefined : true}
            onChange={(e) => setMaxUses(e.target.value)}
            className={`min-h-9 w-24 rounded-md bg-slate-900 px-2 ring-1 ring-inset ${usesValid ? "ring-slate-700" : "ring-rose-500"}`}
          />
        </div>
        <Button
          onClick={() => create.mutate({ sessionId, role, expiresInDays: days, ...(maxUses.trim() ? { maxUses: uses } : {}) })}
          disabled={create.isPending || !usesValid}
        >
          Create invite link
        </Button>
      </div>
      {link ? (
        <div className="flex flex-col gap-1">
          <label htmlFor="invite-url" className="text-xs text-slate-400">
            {create.data!.role} link (shown once) · {expiresIn(create.data!.expiresAt)}
            {create.data!.maxUses ? ` · for ${create.data!.maxUses} ${create.data!.maxUses === 1 ? "person" : "people"}` : ""}
          </label>
          <div className="flex gap-1">
            <input
              id="invite-url"
              readOnly
              value={link}
              data-testid="invite-url"
              onFocus={(e) => e.target.select()}
              className="min-h-9 min-w-0 flex-1 rounded-md bg-slate-950 px-2 font-mono text-xs ring-1 ring-inset ring-slate-700"
            />
            <Button
              onClick={() => {
                void navigator.clipboard?.writeText(link).then(() => setCopied(true));
              }}
            >
              {copied ? "Copied" : "Copy"}
            </Button>
          </div>
        </div>
      ) : null}
      {create.error || revoke.error || changeRole.error || removeMember.error ? (
        <Notice tone="error" role="alert">
          {errorMessage(create.error ?? revoke.error ?? changeRole.error ?? removeMember.error)}
        </Notice>
      ) : null}
      {active.length > 0 ? (
        <div className="flex flex-col gap-1">
          <h3 className="text-xs font-medium text-slate-400">Active invite links</h3>
          <ul className="flex flex-col divide-y divide-slate-800 text-sm" data-testid="invite-list">
            {active.map((i) => (
              <li key={i.id} className="flex items-center justify-between gap-2 py-1">
                <span className="min-w-0 truncate text-slate-300">
                  {i.role} · by {i.createdByName ?? "someone"} {timeAgo(i.createdAt)} · {expiresIn(i.expiresAt)} ·{" "}
                  {i.maxUses === null ? `${i.uses} used` : `${i.uses} of ${i.maxUses} used`}
                </span>
                <Button
                  tone="ghost"
                  className="text-rose-300"
                  disabled={revoke.isPending}
                  onClick={() => revoke.mutate({ sessionId, inviteId: i.id })}
                  aria-label={`Revoke the ${i.role} link made ${timeAgo(i.createdAt)}`}
                >
                  Revoke
                </Button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
