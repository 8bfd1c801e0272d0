/**
 * Where to go after signing in: only a path on this site. A value is kept when it is a path that starts with exactly
 * one "/" (not "//" or "/\", which browsers read as another host), holds no backslash, no control character and no
 * scheme, also after one round of percent-decoding (so "/%5Cevil" and "/%2F/evil" are refused too), and resolves to
 * this origin. Anything else, or nothing, is "/".
 */
const FALLBACK = "/";
const PROBE_ORIGIN = "http://same-origin.invalid";

function plainPath(v: string): boolean {
  if (!v.startsWith("/") || v.startsWith("//")) return false;
  if (v.includes("\\")) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: deliberate: a redirect path holding a control character is refused
  if (/[\u0000-\u001f\u007f]/.test(v)) return false;
  return true;
}

export function safeNext(value: string | string[] | null | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== "string" || v.length === 0 || v.length > 2048) return FALLBACK;
  if (!plainPath(v)) return FALLBACK;
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    return FALLBACK;
  }
  if (!plainPath(decoded)) return FALLBACK;
  try {
    if (new URL(v, PROBE_ORIGIN).origin !== PROBE_ORIGIN) return FALLBACK;
  } catch {
    return FALLBACK;
  }
  return v;
}
