/**
 * One run's database writes, in order, each followed by its push. When a write fails (disk full, database gone)
 * it stays at the head of the queue with everything behind it, nothing is pushed that was not written, and the
 * queue retries every `retryMs` until the write goes through; `onTrouble` is told once when the trouble starts
 * (the run service pauses the run and tells everyone why), `onRecovered` once when the queue has drained again.
 * So no loss point, grid or checkpoint a trainer reported is lost to a failed write, and the order of pushes is
 * the order of writes.
 */
interface Op {
  what: string;
  write: () => Promise<unknown>;
  after?: () => void;
}

export class WriteQueue {
  private readonly ops: Op[] = [];
  private draining: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private abandoned = false;
  /** Why writes fail now (for people), or null while they work. */
  trouble: string | null = null;

  constructor(
    private readonly opts: {
      retryMs?: number;
      onTrouble: (reason: string) => void;
      onRecovered: () => void;
      /** What a failed write is logged as. */
      label?: string;
    },
  ) {}

  /** Writes in order (after everything queued before), then runs `after` (the push). Never throws. */
  push(what: string, write: () => Promise<unknown>, after?: () => void): void {
    if (this.abandoned) return;
    this.ops.push({ what, write, ...(after ? { after } : {}) });
    if (!this.trouble) void this.drain();
  }

  /** Waits until every queued write is done, or until writes are failing (then it does not wait for them). */
  async settled(): Promise<void> {
    while (this.draining && !this.trouble) await this.draining;
  }

  get pending(): number {
    return this.ops.length;
  }

  private drain(): Promise<void> {
    this.draining ??= (async () => {
      await null; // so that `draining` is set before the loop can end and clear it
      try {
        while (this.ops.length > 0 && !this.closed) {
          const op = this.ops[0]!;
          try {
            await op.write();
          } catch (e) {
            this.fail(op, e);
            return;
          }
          this.ops.shift();
          op.after?.();
        }
        if (this.trouble) {
          this.trouble = null;
          this.opts.onRecovered();
        }
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  private fail(op: Op, e: unknown): void {
    const message = e instanceof Error ? e.message.split("\n").filter(Boolean).at(-1)!.trim() : String(e);
    if (!this.trouble) {
      this.trouble = `the server could not store this run's ${op.what} (${message.slice(0, 200)})`;
      console.error(`${this.opts.label ?? "run"}: ${this.trouble}; retrying every ${Math.round((this.opts.retryMs ?? 2000) / 1000)} s`);
      this.opts.onTrouble(this.trouble);
    }
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.drain();
    }, this.opts.retryMs ?? 2000);
    this.retry.unref();
  }

  /**
   * Drops every write still queued and takes no more (the run belongs to another process now: what this one still
   * holds must not overwrite what that one writes). Returns how many writes were dropped.
   */
  abandon(): number {
    this.abandoned = true;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    return this.ops.splice(0).length;
  }

  /** Tries once more now (after the run's trainer exited, or at shutdown); stops retrying afterwards. */
  async close(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.ops.length > 0 && !this.draining) await this.drain();
    else await this.draining;
    this.closed = true;
  }
}
