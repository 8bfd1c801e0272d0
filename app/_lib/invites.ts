/** Invite links in words: "an editor", "expires in 6 days", "1 use left". */

export function withArticle(role: string): string {
  return `${/^[aeiou]/i.test(role) ? "an" : "a"} ${role}`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;

/** "expires in 7 days", "expires in 5 hours", "expired"; "never expires" for a link without an expiry. */
export function expiresIn(expiresAt: string | Date | null, now = Date.now()): string {
  if (expiresAt === null) return "never expires";
  const ms = new Date(expiresAt).getTime() - now;
  if (ms <= 0) return "expired";
  if (ms >= 0.95 * DAY) return `expires in ${plural(Math.round(ms / DAY), "day")}`;
  if (ms >= 1.5 * HOUR) return `expires in ${plural(Math.round(ms / HOUR), "hour")}`;
  return `expires in ${plural(Math.max(1, Math.ceil(ms / MINUTE)), "minute")}`;
}

export function usesLeft(left: number | null): string | null {
  if (left === null) return null;
  return left === 0 ? "no uses left" : `${plural(left, "use")} left`;
}
