// Generates the Prisma client offline: `prisma generate` only needs the schema engine for migrations, which this
// project runs itself (server/db/migrate.ts), so any existing file stands in for the engine binary it would download.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const r = spawnSync("npx", ["--no-install", "prisma", "generate", "--schema", "prisma/schema.prisma"], {
  stdio: "inherit",
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fileURLToPath(import.meta.url),
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
  },
});
process.exit(r.status ?? 1);
