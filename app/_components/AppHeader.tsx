"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMe } from "../_lib/auth";
import { useTRPC } from "../_lib/trpc";
import { Avatar, Button } from "./ui";

export function AppHeader() {
  const me = useMe();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({
      onSuccess: () => {
        queryClient.clear();
        router.push("/signin");
      },
    }),
  );
  return (
    <header className="sticky top-0 z-30 border-b border-slate-800/80 bg-slate-950/90 backdrop-blur">
      <div className="mx-auto flex h-12 max-w-[1400px] items-center justify-between gap-3 px-3 sm:px-5">
        <Link href="/" className="flex items-center gap-2 rounded font-semibold tracking-tight text-slate-100">
          <Logo />
          GAN Studio
        </Link>
        {me.data ? (
          <div className="flex items-center gap-2">
            <Link href="/" className="hidden rounded px-2 py-1 text-sm text-slate-300 hover:text-white sm:inline">
              My sessions
            </Link>
            <Avatar name={me.data.name} id={me.data.id} size="sm" title={`Signed in as ${me.data.name}`} />
            <Button tone="ghost" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
              Sign out
            </Button>
          </div>
        ) : null}
      </div>
    </header>
  );
}

function Logo() {
  // A 3×3 "sample grid" mark.
  return (
    <svg aria-hidden width="20" height="20" viewBox="0 0 20 20">
      {[0, 1, 2].flatMap((r) =>
        [0, 1, 2].map((c) => (
          <rect key={`${r}${c}`} x={c * 7} y={r * 7} width="6" height="6" rx="1.2" fill={(r + c) % 2 ? "#38bdf8" : "#a78bfa"} opacity={0.55 + 0.15 * r} />
        )),
      )}
    </svg>
  );
}
