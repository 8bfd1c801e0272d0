"use client";
/** Accepts an invite link after sign-in (the guard sends strangers to sign in and back), then opens the session. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useRef } from "react";
import { useRequireUser } from "../_lib/auth";
import { errorMessage } from "../_lib/errors";
import { useTRPC } from "../_lib/trpc";
import { Notice } from "./ui";

export function AcceptInvite({ token }: { token: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const accept = useMutation(
    trpc.sessions.acceptInvite.mutationOptions({
      onSuccess: async ({ sessionId }) => {
        await queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey() });
        router.replace(`/sessions/${sessionId}`);
      },
    }),
  );
  const asked = useRef(false);
  const mutate = accept.mutate;
  useEffect(() => {
    if (!me || asked.current) return;
    asked.current = true;
    mutate({ token });
  }, [me, mutate, token]);

  return (
    <main className="mx-auto flex max-w-lg flex-col gap-4 px-4 py-16">
      <h1 className="text-2xl font-semibold">{accept.isError ? "This invite link does not work" : "Joining a session"}</h1>
      {accept.isError ? (
        <>
          <Notice tone="error" role="alert">
            {errorMessage(accept.error)}
          </Notice>
          <Link href="/" className="text-sky-300 underline">
            Back to my sessions
          </Link>
        </>
      ) : (
        <p className="text-slate-400" role="status">
          {me ? "Accepting the invitation…" : "Checking who you are…"}
        </p>
      )}
    </main>
  );
}
