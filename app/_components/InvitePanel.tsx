"use client";
/** The owner makes invite links (viewer or editor); each link is shown once, to copy and send. */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../_lib/errors";
import { useTRPC } from "../_lib/trpc";
import { Button, Notice } from "./ui";

export function InvitePanel({ sessionId }: { sessionId: string }) {
  const trpc = useTRPC();
  const [role, setRole] = useState<"viewer" | "editor">("viewer");
  const [copied, setCopied] = useState(false);
  const create = useMutation(trpc.sessions.createInvite.mutationOptions({ onSuccess: () => setCopied(false) }));
  const link = create.data ? `${window.location.origin}${create.data.path}` : null;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-end gap-2">
        <div className="flex flex-col gap-1">
          <label htmlFor="invite-role" className="text-sm font-medium text-slate-300">
            Role
          </label>
          <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as "viewer" | "editor")} className="min-h-9 rounded-md bg-slate-900 px-2 ring-1 ring-inset ring-slate-700">
            <option value="viewer">viewer — watches and generates</option>
            <option value="editor">editor — also steers runs</option>
          </select>
        </div>
        <Button onClick={() => create.mutate({ sessionId, role })} disabled={create.isPending}>
          Create invite link
        </Button>
      </div>
      {link ? (
        <div className="flex flex-col gap-1">
          <label htmlFor="invite-url" className="text-xs text-slate-400">
            {create.data!.role} link (shown once)
          </label>
          <div className="flex gap-1">
            <input id="invite-url" readOnly value={link} data-testid="invite-url" onFocus={(e) => e.target.select()} className="min-h-9 min-w-0 flex-1 rounded-md bg-slate-950 px-2 font-mono text-xs ring-1 ring-inset ring-slate-700" />
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
      {create.error ? (
        <Notice tone="error" role="alert">
          {errorMessage(create.error)}
        </Notice>
      ) : null}
    </div>
  );
}
