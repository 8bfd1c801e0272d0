/**
 * What a failed tRPC call tells a person: its code (FORBIDDEN, UNAUTHORIZED…), its message, and the field issues
 * the server's error formatter attaches (`data.issues`: [{ path, message }]) for inline form errors.
 */
export interface FieldIssue {
  path: string;
  message: string;
}

interface ErrorShape {
  message?: string;
  data?: { code?: string; issues?: FieldIssue[] | null } | null;
}

export function errorCode(e: unknown): string | null {
  return (e as ErrorShape | null)?.data?.code ?? null;
}

export function errorMessage(e: unknown): string {
  if (!e) return "";
  const issues = fieldIssues(e);
  if (issues.length > 0 && errorCode(e) === "BAD_REQUEST") return "Check the highlighted fields.";
  const message = (e as ErrorShape).message ?? String(e);
  // Network failures from fetch read better in plain words.
  if (/failed to fetch|networkerror|load failed/i.test(message)) return "The server cannot be reached; retrying…";
  return message.charAt(0).toUpperCase() + message.slice(1);
}

export function fieldIssues(e: unknown): FieldIssue[] {
  const issues = (e as ErrorShape | null)?.data?.issues;
  return Array.isArray(issues) ? issues : [];
}

/** Field errors by path (the first message per path), e.g. { batchSize: "Too small: expected number to be >=1" }. */
export function issuesByPath(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of fieldIssues(e)) out[i.path] ??= i.message;
  return out;
}
