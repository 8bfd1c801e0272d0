/**
 * A new run from a Config: this server's limits checked before anything allocates (BatchSize and layer count from
 * array lengths, then parameters, activation memory and grid size on the spec resolved for the data set), the
 * Config parsed, its data set checked, the session's and the creator's run quotas counted, the row inserted.
 * Bad fields come back as a BAD_REQUEST RunError with their paths.
 */
import path from "node:path";
import { ConfigError, parseConfig, type Config, type ConfigInput } from "../../lib/gan/config";
import { checkConfigBeforeResolve, checkConfigLimits, DEFAULT_CONFIG_LIMITS, describeLimitIssues, resolveConfigSpec } from "../../lib/gan/limits";
import { oneAtATime, QuotaError } from "../limits";
import type { RunContext } from "./context";
import { RunError } from "./errors";

export class RunCreation {
  constructor(private readonly ctx: RunContext) {}

  /** Creates a run from a Config (validated: bad fields come back with their paths). */
  async createRun(input: { sessionId: string; userId: string; name: string; config: ConfigInput }) {
    const { deps, store } = this.ctx;
    // This server's limits, before anything allocates: BatchSize and layer count first (from array lengths, before
    // the spec is even parsed), then parameters, activation memory and grid size on the spec resolved for the data.
    const configLimits = deps.configLimits ?? DEFAULT_CONFIG_LIMITS;
    const early = checkConfigBeforeResolve(input.config, configLimits);
    if (early.length > 0) throw new RunError("BAD_REQUEST", describeLimitIssues(early), early);
    let config: Config;
    try {
      config = parseConfig(input.config);
    } catch (e) {
      if (e instanceof ConfigError) throw new RunError("BAD_REQUEST", e.message, e.issues);
      throw e;
    }
    try {
      await deps.datasets?.checkForRun(input.sessionId, config);
    } catch (e) {
      const issues = (e as { issues?: { path: string; message: string }[] }).issues;
      if (issues) throw new RunError("BAD_REQUEST", (e as Error).message, issues);
      throw e;
    }
    const over = checkConfigLimits(config, await (deps.datasets?.specForRun?.(config) ?? resolveConfigSpec(config)), configLimits);
    if (over.length > 0) throw new RunError("BAD_REQUEST", describeLimitIssues(over), over);
    const id = crypto.randomUUID();
    // The counts and the insert they allow, one creation at a time.
    const run = await oneAtATime("runs.create", async () => {
      await this.checkRunQuotas(input.sessionId, input.userId);
      return store.createRun({
        sessionId: input.sessionId,
        createdById: input.userId,
        name: input.name,
        config,
        datasetRef: config.dataset,
        outDir: path.join(deps.dataDir, "runs", id),
        id,
      });
    });
    await this.ctx.activity({ sessionId: input.sessionId, runId: run.id, userId: input.userId, kind: "run.created", detail: { name: input.name, config } });
    return run;
  }

  /** Refuses (QuotaError) a new run past the session's or the user's number of runs. */
  private async checkRunQuotas(sessionId: string, userId: string): Promise<void> {
    const { store, limits } = this.ctx;
    const perSession = limits.GAN_MAX_RUNS_PER_SESSION;
    const inSession = await store.countRuns({ sessionId });
    if (inSession >= perSession) {
      throw new QuotaError(`this session already holds ${inSession} runs, the most one session may hold: start a new session for more`, {
        name: "runs",
        limit: perSession,
        used: inSession,
      });
    }
    const perUser = limits.GAN_MAX_RUNS_PER_USER;
    const byUser = await store.countRuns({ createdById: userId });
    if (byUser >= perUser) {
      throw new QuotaError(`you have created ${byUser} runs, the most one person may create on this server`, { name: "runs", limit: perUser, used: byUser });
    }
  }
}
