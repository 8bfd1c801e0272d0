"use client";
/**
 * The browser's tRPC: typed by the server's router (types only, nothing of the server enters the bundle).
 * Components call `useTRPC()` and pass its options to TanStack Query (`useQuery(trpc.sessions.list.queryOptions())`).
 */
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../../server/trpc/root";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type { AppRouter };
