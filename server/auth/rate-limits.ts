/**
 * Rate limits on accounts and invites (rate-limiter-flexible), built once per server from `Limits`
 * (server/limits.ts) and handed to every tRPC call as `ctx.rateLimits`:
 *
 * | what | key | limit | window |
 * | --- | --- | --- | --- |
 * | sign-in attempts | IP address | GAN_SIGNIN_PER_IP | 15 min |
 * | failed sign-ins (a success resets them) | account email and IP address | GAN_SIGNIN_FAILURES_PER_ACCOUNT | 15 min |
 * | failed sign-ins from every address together | account email, whether or not it has an account | 10 × GAN_SIGNIN_FAILURES_PER_ACCOUNT | 15 min |
 * | sign-ups | IP address | GAN_SIGNUP_PER_IP | 1 h |
 * | invite look-ups and acceptances | IP address, and signed-in user | GAN_INVITE_ACCEPT_PER_IP | 15 min |
 *
 * Failures count per account and address first, so a guesser locks the account only for their own address and its
 * owner still signs in from theirs; the account-wide count (ten times as many) stops a guess spread over many addresses.
 *
 * A refusal is a {@link QuotaError} ("rateLimit", with retryAfterSeconds); the API turns it into TOO_MANY_REQUESTS.
 * The counters live in memory (RateLimiterMemory): one process, reset by a restart. In a cluster they live in Redis
 * (server/cluster/node.ts `limiters()`: RateLimiterRedis, with a memory limiter as insurance while Redis is lost).
 */
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { QuotaError, type Limits } from "../limits";

export interface LimiterOptions {
  /** Separates this limiter's keys from the others' in a shared store. */
  keyPrefix: string;
  points: number;
  /** Seconds. */
  duration: number;
}

export type LimiterFactory = (options: LimiterOptions) => RateLimiterAbstract;

export const memoryLimiters: LimiterFactory = (options) => new RateLimiterMemory(options);

const MINUTES_15 = 15 * 60;
const HOUR = 60 * 60;

/** "12 minutes", "1 minute", "40 seconds": how long until the window frees a point. */
export function waitInWords(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

function refusal(what: string, limiter: RateLimiterAbstract, res: RateLimiterRes): QuotaError {
  const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new QuotaError(`${what}: try again in ${waitInWords(res.msBeforeNext)}`, {
    name: "rateLimit",
    limit: limiter.points,
    used: res.consumedPoints,
    retryAfterSeconds,
  });
}

/** Takes one point; a full window is a QuotaError saying `what`. A store failure is rethrown as it is. */
async function take(limiter: RateLimiterAbstract, key: string, what: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (e) {
    if (e instanceof RateLimiterRes) throw refusal(what, limiter, e);
    throw e;
  }
}

type AccountLimits = Pick<Limits, "GAN_SIGNIN_PER_IP" | "GAN_SIGNIN_FAILURES_PER_ACCOUNT" | "GAN_SIGNUP_PER_IP" | "GAN_INVITE_ACCEPT_PER_IP">;

export class RateLimits {
  private readonly signInIp: RateLimiterAbstract;
  private readonly signInFailures: RateLimiterAbstract;
  private readonly signInFailuresAnywhere: RateLimiterAbstract;
  private readonly signUpIp: RateLimiterAbstract;
  private readonly inviteIp: RateLimiterAbstract;
  private readonly inviteUser: RateLimiterAbstract;

  constructor(limits: AccountLimits, make: LimiterFactory = memoryLimiters) {
    this.signInIp = make({ keyPrefix: "signin-ip", points: limits.GAN_SIGNIN_PER_IP, duration: MINUTES_15 });
    this.signInFailures = make({ keyPrefix: "signin-fail", points: limits.GAN_SIGNIN_FAILURES_PER_ACCOUNT, duration: MINUTES_15 });
    this.signInFailuresAnywhere = make({ keyPrefix: "signin-fail-all", points: 10 * limits.GAN_SIGNIN_FAILURES_PER_ACCOUNT, duration: MINUTES_15 });
    this.signUpIp = make({ keyPrefix: "signup-ip", points: limits.GAN_SIGNUP_PER_IP, duration: HOUR });
    this.inviteIp = make({ keyPrefix: "invite-ip", points: limits.GAN_INVITE_ACCEPT_PER_IP, duration: MINUTES_15 });
    this.inviteUser = make({ keyPrefix: "invite-user", points: limits.GAN_INVITE_ACCEPT_PER_IP, duration: MINUTES_15 });
  }

  /**
   * Before a password is checked (sign-in, password change): counts the attempt against the address, and refuses an
   * account whose failures from this address (or from everywhere) filled the window, even with the right password,
   * until the window ends.
   */
  async signInAttempt(ip: string, email: string): Promise<void> {
    await take(this.signInIp, ip, "too many sign-in attempts from your address");
    for (const [limiter, key] of this.failureKeys(ip, email)) {
      const failures = await limiter.get(key);
      if (failures && failures.consumedPoints >= limiter.points) throw refusal("too many sign-in attempts for this account", limiter, failures);
    }
  }

  /** A wrong password (or an email without an account): one more failure for the account, here and everywhere. */
  async signInFailed(ip: string, email: string): Promise<void> {
    for (const [limiter, key] of this.failureKeys(ip, email)) {
      try {
        await limiter.consume(key);
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e; // already full: the next attempt is refused by signInAttempt
      }
    }
  }

  /** The right password: the account's failures start again from zero. */
  async signInSucceeded(ip: string, email: string): Promise<void> {
    for (const [limiter, key] of this.failureKeys(ip, email)) await limiter.delete(key);
  }

  private failureKeys(ip: string, email: string): [RateLimiterAbstract, string][] {
    return [
      [this.signInFailures, `${email}|${ip}`],
      [this.signInFailuresAnywhere, email],
    ];
  }

  async signUp(ip: string): Promise<void> {
    await take(this.signUpIp, ip, "too many accounts created from your address");
  }

  /** Looking up or accepting an invite link, by address and by signed-in user. */
  async inviteAttempt(ip: string, userId: string): Promise<void> {
    await take(this.inviteIp, ip, "too many invite links tried from your address");
    await take(this.inviteUser, userId, "too many invite links tried by your account");
  }
}
