"use client";
/** Who is signed in, and a guard that sends everyone else to the sign-in page (and back afterwards). */
import { useQuery } from "@tanstack/react-query";
import { usePathname, useRouter } from "next/navigation";
import { useEffect } from "react";
import { useTRPC } from "./trpc";

export function useMe() {
  const trpc = useTRPC();
  return useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
}

/** The signed-in user; while unknown, undefined; when nobody is signed in, redirects to /signin?next=<here>. */
export function useRequireUser() {
  const me = useMe();
  const router = useRouter();
  const pathname = usePathname();
  useEffect(() => {
    if (me.isSuccess && me.data === null) {
      const here = pathname + (typeof window !== "undefined" ? window.location.search : "");
      router.replace(`/signin?next=${encodeURIComponent(here)}`);
    }
  }, [me.isSuccess, me.data, router, pathname]);
  return me.data ?? undefined;
}
