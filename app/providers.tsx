"use client";
/** TanStack Query and tRPC for every page. Calls are batched, except the RuntimeGenerator's (it may take a moment). */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpLink, isNonJsonSerializable, splitLink } from "@trpc/client";
import { useState, type ReactNode } from "react";
import { errorCode } from "./_lib/errors";
import { xhrFetch } from "./_lib/upload";
import { TRPCProvider, type AppRouter } from "./_lib/trpc";

const NO_RETRY = new Set(["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "BAD_REQUEST", "CONFLICT", "PRECONDITION_FAILED"]);

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        refetchOnWindowFocus: false,
        retry: (failures, error) => !NO_RETRY.has(errorCode(error) ?? "") && failures < 3,
      },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          // Uploads (a file as the body) go alone, through XMLHttpRequest so the page can show how much has been sent.
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink({ url: "/api/trpc", fetch: xhrFetch }),
          false: splitLink({
            condition: (op) => op.path === "runs.generate",
            true: httpLink({ url: "/api/trpc" }),
            false: httpBatchLink({ url: "/api/trpc" }),
          }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
