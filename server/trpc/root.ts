/**
 * The API's root: one router per domain (routers/). The browser's client, the server's HTTP handler and the tests
 * take `AppRouter` and `appRouter` from here.
 */
import { router } from "./init";
import { authRouter } from "./routers/auth";
import { datasetsRouter } from "./routers/datasets";
import { runsRouter } from "./routers/runs";
import { sessionsRouter } from "./routers/sessions";

export const appRouter = router({ auth: authRouter, sessions: sessionsRouter, runs: runsRouter, datasets: datasetsRouter });
export type AppRouter = typeof appRouter;
