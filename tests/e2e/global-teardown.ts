/** Stops the server (whichever process runs it now, after restarts) and removes its temporary data. */
import { existsSync, rmSync } from "node:fs";
import { readState, stopServer, STATE } from "./server";

export default async function globalTeardown(): Promise<void> {
  if (!existsSync(STATE)) return; // the setup failed before the server started
  const { tmp } = readState();
  await stopServer();
  if (!process.env.E2E_KEEP_DATA) rmSync(tmp, { recursive: true, force: true });
}
