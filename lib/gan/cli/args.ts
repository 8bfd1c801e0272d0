/**
 * A small, strict command-line parser for the engine's scripts: `--name value`, `--flag`, `--name=value`.
 * Unknown options are errors, so a typo never trains with a default.
 */
import { parseArgs } from "node:util";
import type { BackendInfo } from "../backend";
import { BUILTIN_SPECS, type BuiltinSpecName } from "../spec/builtin";

export interface OptionSpec {
  type: "string" | "boolean";
  help: string;
}

export class UsageError extends Error {}

/** The parsed options: a string or a boolean per option, absent when not given. */
export type CliValues<T extends Record<string, OptionSpec>> = { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };

export function parseCli<T extends Record<string, OptionSpec>>(argv: string[], options: T, usage: string): CliValues<T> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, { type: v.type }])),
      strict: true,
      allowPositionals: false,
    });
    return values as CliValues<T>;
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

/** A string option that must be given, or a usage error naming it (with the help text). */
export function requireOption(options: Record<string, OptionSpec>, usage: string, name: string, value: string | boolean | undefined): string {
  if (!value || typeof value !== "string") throw new UsageError(`--${name} is required\n\n${helpText(options, usage)}`);
  return value;
}

/** A built-in spec's name (default nnc-dcgan-with-label), or a usage error listing them. */
export function builtinSpecOption(value: string | undefined): BuiltinSpecName {
  const spec = (value ?? "nnc-dcgan-with-label") as BuiltinSpecName;
  if (!(spec in BUILTIN_SPECS)) throw new UsageError(`--spec must be one of ${Object.keys(BUILTIN_SPECS).join(", ")}`);
  return spec;
}

/** The "backend: NAME (DETAIL)" line a script writes on stderr once its backend is up. */
export function reportBackend(backend: BackendInfo): void {
  process.stderr.write(`backend: ${backend.name} (${backend.detail})\n`);
}

/** A Markdown table, columns padded to their widest cell. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/**
 * A script's start: parses argv against `options` (usage errors show the help), prints the help for --help, else
 * runs `main` with the values under runMain.
 */
export function cliMain<T extends Record<string, OptionSpec>>(options: T, usage: string, main: (a: CliValues<T>) => Promise<void>): void {
  runMain(async () => {
    const a = parseCli(process.argv.slice(2), options, usage);
    if (a.help) {
      console.log(helpText(options, usage));
      return;
    }
    await main(a);
  });
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
