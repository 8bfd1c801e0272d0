"use client";
/**
 * An invite link's page (signed in: the guard sends strangers to sign in and back). It says who invites you to which
 * session, as what, and until when, and joins only when you press "Join session": opening the link changes nothing.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import type { ReactNode } from "react";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { expiresIn, usesLeft, withArticle } from "../_lib/invites";
import { useTRPC } from "../_lib/trpc";
import { Button, Notice } from "./ui";

function Frame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="mx-auto flex max-w-lg flex-col gap-4 px-4 py-16">
      <h1 className="text-2xl font-semibold">{title}</h1>
      {children}
    </main>
  );
}

const backHome = (
  <Link href="/" className="text-sky-300 underline">
    Back to my sessions
  </Link>
);

export function AcceptInvite({ token }: { token: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  // Each look-up counts against the invite rate limit: once per page, no retries, no refetching.
  const info = useQuery(
    trpc.sessions.inviteInfo.queryOptions(
      { token },
      { enabled: !!me, retry: false, staleTime: Infinity, refetchOnWindowFocus: false, refetchOnReconnect: false },
    ),
  );
  const accept = useMutation(
    trpc.sessions.acceptInvite.mutationOptions({
      onSuccess: async ({ sessionId }) => {
        await queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
        router.replace(`/sessions/${sessionId}`);
      },
    }),
  );

  if (!me || info.isPending) {
    return (
      <Frame title="An invitation">
        <p className="text-slate-400" role="status">
          {me ? "Reading the invitation…" : "Checking who you are…"}
        </p>
      </Frame>
    );
  }
  if (info.isError) {
    const code = errorCode(info.error);
    return (
      <Frame
        title={
          code === "FORBIDDEN"
            ? "This invite link is not for you any more"
            : code === "TOO_MANY_REQUESTS"
              ? "Too many invite links"
              : "This invite link does not work"
        }
      >
        <Notice tone="error" role="alert">
          {errorMessage(info.error)}
        </Notice>
        {backHome}
      </Frame>
    );
  }

  const i = info.data;
  const already = i.memberRole !== null && i.joinsAs === i.memberRole;
  const left = usesLeft(i.usesLeft);
  return (
    <Frame title={already ? "You are already a member" : "You are invited"}>
      <p className="text-lg text-slate-200" data-testid="invite-summary">
        {i.invitedBy} invites you to the session &quot;{i.sessionName}&quot; as {withArticle(i.role)} · {expiresIn(i.expiresAt)}
        {left ? ` · ${left}` : ""}
      </p>
      {i.ceiling === "viewer" && i.role !== "viewer" ? (
        <Notice tone="info">The session&apos;s owner made you a viewer: this link keeps you a viewer. Only the owner can make you an editor again.</Notice>
      ) : null}
      {already ? (
        <>
          <p className="text-slate-400">
            You are {withArticle(i.memberRole!)} of &quot;{i.sessionName}&quot; already; this link changes nothing for you.
          </p>
          <Link href={`/sessions/${i.sessionId}`} className="self-start rounded-md bg-sky-500 px-3 py-1.5 text-sm font-medium text-slate-950 hover:bg-sky-400">
            Open the session
          </Link>
        </>
      ) : (
        <div className="flex flex-wrap items-center gap-3">
          <Button tone="primary" onClick={() => accept.mutate({ token })} disabled={accept.isPending || accept.isSuccess}>
            {accept.isPending || accept.isSuccess ? "Joining…" : "Join session"}
          </Button>
          <Link href="/" className="text-sm text-slate-400 underline">
            Not now
          </Link>
        </div>
      )}
      {accept.isError ? (
        <Notice tone="error" role="alert">
          {errorMessage(accept.error)}
        </Notice>
      ) : null}
    </Frame>
  );
}
