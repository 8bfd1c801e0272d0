/**
 * Which pages may open a socket.io connection: the `Origin` of the handshake must be on the allow-list
 * (GAN_ALLOWED_ORIGINS, comma-separated) or, when the list is empty, be the server's own origin (http:// or https://
 * followed by the request's Host header). A handshake without an Origin header is let through: browsers always send
 * one on WebSocket and cross-origin requests, so only non-browser clients (Node's socket.io-client, curl) omit it, and
 * those carry no ambient cookie of a victim. The session cookie is still required after this check.
 */
import type { IncomingMessage } from "node:http";

/** `https://Example.com:443/` → `https://example.com`; anything that is not an http(s) origin → null. */
export function normaliseOrigin(value: string): string | null {
  try {
    const u = new URL(value.trim());
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.origin;
  } catch {
    return null;
  }
}

/** The allow-list from GAN_ALLOWED_ORIGINS; an entry that is not an http(s) origin stops the server, named. */
export function parseAllowedOrigins(value: string): string[] {
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return entries.map((entry) => {
    const origin = normaliseOrigin(entry);
    if (!origin) throw new Error(`GAN_ALLOWED_ORIGINS: ${JSON.stringify(entry)} is not an origin (scheme://host[:port])`);
    return origin;
  });
}

/** null when the handshake may go on, else the reason in words. */
export function originRefusal(origin: string | undefined, host: string | undefined, allowed: readonly string[]): string | null {
  if (origin === undefined) return null;
  const normal = normaliseOrigin(origin);
  const ok =
    allowed.length > 0
      ? normal !== null && allowed.includes(normal)
      : normal !== null && host !== undefined && (normal === normaliseOrigin(`http://${host}`) || normal === normaliseOrigin(`https://${host}`));
  if (ok) return null;
  const list = allowed.length > 0 ? `GAN_ALLOWED_ORIGINS (${allowed.join(", ")})` : "this server's own origin (GAN_ALLOWED_ORIGINS is empty)";
  return `FORBIDDEN: pages from ${JSON.stringify(origin)} may not open a live connection to this server; allowed: ${list}`;
}

/**
 * socket.io's `allowRequest`: refuses a handshake from another origin before any transport opens (HTTP 403 with the
 * reason for polling; 400 with the reason for a WebSocket upgrade).
 */
export function allowOrigins(allowedOrigins: string) {
  const allowed = parseAllowedOrigins(allowedOrigins);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const reason = originRefusal(req.headers.origin, req.headers.host, allowed);
    callback(reason, reason === null);
  };
}
