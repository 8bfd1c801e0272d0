// A fresh PostgreSQL database for one suite, on the run's server (tests/global-postgres.ts): `gan_<name>_<random>`.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

/** The URL of the run's PostgreSQL server's maintenance database. */
export function postgresServerUrl(): string {
  return inject("postgresUrl");
}

/** Creates an empty database and returns its URL. */
export async function freshPostgresDatabase(name: string): Promise<string> {
  const server = new URL(postgresServerUrl());
  const db = `gan_${name.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: postgresServerUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${db}"`);
  } finally {
    await admin.end();
  }
  server.pathname = `/${db}`;
  return server.toString();
}
