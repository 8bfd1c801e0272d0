/**
 * A small, strict command-line parser for the engine's scripts: `--name value`, `--flag`, `--name=value`.
 * Unknown options are errors, so a typo never trains with a default.
 */
import { parseArgs } from "node:util";

export interface OptionSpec {
  type: "string" | "boolean";
  help: string;
}

export class UsageError extends Error {}

export function parseCli<T extends Record<string, OptionSpec>>(
  argv: string[],
  options: T,
  usage: string,
): { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, { type: v.type }])),
      strict: true,
      allowPositionals: false,
    });
    return values as { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${helpText(options, usage)}`);
  }
}

export function helpText(options: Record<string, OptionSpec>, usage: string): string {
  const lines = Object.entries(options).map(([k, v]) => `  --${k}${v.type === "string" ? " VALUE" : ""}`.padEnd(28) + v.help);
  return `${usage}\n\nOptions:\n${lines.join("\n")}`;
}

/** A positive integer option, or a usage error naming it. */
export function intOption(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** Runs a CLI main, printing errors without a stack (usage and user errors are not crashes). */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    const err = e as Error;
    process.stderr.write(`${err.name && err.name !== "Error" && !(err instanceof UsageError) ? `${err.name}: ` : ""}${err.message}\n`);
    if (process.env.GAN_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  });
}

/** A one-line progress bar on stderr (redrawn in place on a terminal, a line per update otherwise). */
export class ProgressBar {
  private last = 0;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, text: string): void {
    const now = Date.now();
    const tty = this.stream.isTTY;
    if (!tty && now - this.last < 5000 && done < this.total) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round((done / this.total) * 100)).padStart(3)}% ${text}`;
    this.stream.write(tty ? `\r${bar}\x1b[K` : `${bar}\n`);
  }

  /** A line of its own above the bar. */
  note(text: string): void {
    this.stream.write(this.stream.isTTY ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  done(): void {
    if (this.stream.isTTY) this.stream.write("\n");
  }
}
