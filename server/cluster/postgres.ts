// A PostgreSQL server of its own, started from Debian's installed binaries on loopback with its data in a folder:
// for the tests (one per suite, on a free port, so they never touch a developer's database) and for the local
// cluster command. It runs as a child of this process's tree (pg_ctl daemonises it; `stop()` ends it).
// PostgreSQL refuses to run as root: as root, the folder is given to the `postgres` user and the commands run as it.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

export interface PostgresServer {
  /** postgresql://gan@127.0.0.1:PORT/gan */
  url: string;
  port: number;
  dir: string;
  /** Stops the server (fast shutdown: open transactions are rolled back, committed ones kept). */
  stop(): void;
  /** Kills the server at once (SIGKILL to the postmaster), as a lost database host would. */
  kill(): void;
  /** Starts it again on the same port and folder (after stop or kill). */
  start(): void;
}

/** The folder of PostgreSQL's server binaries (initdb, pg_ctl, postgres), or null when it is not installed. */
export function postgresBinDir(): string | null {
  if (process.env.GAN_PG_BIN) return process.env.GAN_PG_BIN;
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], "bin") : null;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** Runs one of PostgreSQL's programs (as `postgres` when this process is root); throws with its output when it fails. */
function pg(bin: string, program: string, args: string[]): string {
  const file = path.join(bin, program);
  const r = isRoot()
    ? spawnSync("su", ["postgres", "-s", "/bin/sh", "-c", [file, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")], { encoding: "utf8" })
    : spawnSync(file, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${program} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || "").trim().slice(-2000)}`);
  return r.stdout;
}

/**
 * Creates a database cluster in `dir` (unless one is there) and starts it on `port` (a free one when not given),
 * listening on 127.0.0.1 only, trust authentication, superuser `gan`, database `gan`.
 */
export async function startPostgres(opts: { dir: string; port?: number }): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql, or set GAN_PG_BIN");
  const port = opts.port ?? (await freePort());
  const dir = path.resolve(opts.dir);
  const data = path.join(dir, "pg");
  mkdirSync(dir, { recursive: true });
  if (isRoot()) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
    const reach = spawnSync("su", ["postgres", "-s", "/bin/sh", "-c", `test -x '${dir.replace(/'/g, "'\\''")}'`]);
    if (reach.status !== 0) {
      throw new Error(
        `PostgreSQL runs as the postgres user, which cannot reach ${dir}: a folder above it is closed to others (chmod o+x it, e.g. a mkdtemp folder)`,
      );
    }
  }
  if (!existsSync(path.join(data, "PG_VERSION"))) pg(bin, "initdb", ["-D", data, "-A", "trust", "-U", "gan", "-E", "UTF8", "--no-sync"]);
  const start = () => {
    pg(bin, "pg_ctl", [
      "-D",
      data,
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`,
      "-l",
      path.join(dir, "log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
  };
  start();
  // The `gan` database (createdb through the server's own binary would need a client; `postgres` exists already).
  const psql = path.join(bin, "psql");
  const has = spawnSync(
    psql,
    ["-h", "127.0.0.1", "-p", String(port), "-U", "gan", "-d", "postgres", "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'gan'"],
    { encoding: "utf8" },
  );
  if (has.status !== 0) throw new Error(`psql could not reach the new server on port ${port}: ${has.stderr}`);
  if (has.stdout.trim() !== "1") {
    const c = spawnSync(psql, ["-h", "127.0.0.1", "-p", String(port), "-U", "gan", "-d", "postgres", "-c", "CREATE DATABASE gan"], { encoding: "utf8" });
    if (c.status !== 0) throw new Error(`could not create database gan: ${c.stderr}`);
  }
  return {
    url: `postgresql://gan@127.0.0.1:${port}/gan`,
    port,
    dir,
    stop: () => {
      try {
        pg(bin, "pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      } catch {
        /* already stopped */
      }
    },
    kill: () => {
      const pidFile = path.join(data, "postmaster.pid");
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      // The postmaster and its backends at once, as a lost host loses them (backends left alive would hold its
      // shared memory, and the next start would refuse).
      const backends = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
        .stdout.split("\n")
        .filter(Boolean)
        .map(Number);
      for (const p of [pid, ...backends]) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      const alive = (p: number) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && [pid, ...backends].some(alive); i++) spawnSync("sleep", ["0.05"]);
    },
    start,
  };
}
