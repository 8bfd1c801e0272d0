/**
 * Request bodies, checked before anything reads them. Each route takes one content type with its own size limit:
 * the data set upload takes only `application/octet-stream` (streamed to disk by its procedure, counted as it
 * arrives), every other tRPC call only `application/json` up to a small cap (tRPC counts it as it streams and
 * stops at the cap), and nothing else of this server takes a body at all. A declared Content-Length over the limit,
 * a wrong content type or a batch on the upload route is refused here, before a byte of the body is read, and the
 * connection is closed so the rest is never received.
 */
import type { IncomingMessage } from "node:http";

export const UPLOAD_PATH = "/api/trpc/datasets.upload";

export interface BodyLimits {
  /** Largest JSON body (tRPC calls), in bytes. */
  jsonMaxBytes: number;
  /** Largest upload body, in bytes. */
  uploadMaxBytes: number;
}

export interface BodyRefusal {
  status: 400 | 405 | 413 | 415;
  code: "BAD_REQUEST" | "METHOD_NOT_SUPPORTED" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE";
  message: string;
}

const mediaType = (req: IncomingMessage) => (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim().toLowerCase();

/** True when the request says it carries a body (a length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

const mib = (bytes: number) => (bytes >= 2 ** 20 ? `${Math.round(bytes / 2 ** 20)} MiB` : `${Math.round(bytes / 1024)} KiB`);

/** Why this request's body is refused before it is read, or null when it may be read (within its limit). */
export function refuseBody(req: IncomingMessage, pathname: string, limits: BodyLimits): BodyRefusal | null {
  const method = req.method ?? "GET";
  const declared = req.headers["content-length"] === undefined ? null : Number(req.headers["content-length"]);
  if (declared !== null && !(Number.isSafeInteger(declared) && declared >= 0)) {
    return { status: 400, code: "BAD_REQUEST", message: "Content-Length is not a byte count" };
  }
  // socket.io's long-polling posts: engine.io caps those itself (maxHttpBufferSize).
  if (pathname.startsWith("/api/socket/")) return null;
  if (!pathname.startsWith("/api/")) {
    // The pages (Next.js): this app has no server actions; Next caps any body it would read at 1 MB itself.
    if (declared !== null && declared > limits.jsonMaxBytes) {
      return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `the request body is larger than the ${mib(limits.jsonMaxBytes)} a page request may carry` };
    }
    return null;
  }
  if (!pathname.startsWith("/api/trpc/")) {
    // The health check and the PNG and zip routes answer GET and take nothing.
    if (method !== "GET" && method !== "HEAD") return { status: 405, code: "METHOD_NOT_SUPPORTED", message: `${pathname} answers GET only` };
    if (hasBody(req)) return { status: 400, code: "BAD_REQUEST", message: `${method} ${pathname} takes no request body` };
    return null;
  }
  if (method === "GET" || method === "HEAD") {
    if (hasBody(req)) return { status: 400, code: "BAD_REQUEST", message: "a tRPC query carries its input in the URL, not in a body" };
    return null;
  }
  if (method !== "POST") return { status: 405, code: "METHOD_NOT_SUPPORTED", message: `tRPC takes GET for queries and POST for mutations, not ${method}` };
  const type = mediaType(req);
  if (pathname === UPLOAD_PATH) {
    if (type !== "application/octet-stream") {
      return {
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
        message: `an upload is the file's bytes as application/octet-stream, not ${type || "a body without a content type"}`,
      };
    }
    const url = req.url ?? "";
    if (/[?&]batch=/.test(url)) return { status: 400, code: "BAD_REQUEST", message: "an upload cannot be batched with other calls" };
    if (declared !== null && declared > limits.uploadMaxBytes) {
      return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `the upload is larger than the ${mib(limits.uploadMaxBytes)} allowed` };
    }
    return null;
  }
  if (type !== "application/json") {
    return { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: `tRPC calls take application/json, not ${type || "a body without a content type"}` };
  }
  if (declared !== null && declared > limits.jsonMaxBytes) {
    return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `the request body is larger than the ${mib(limits.jsonMaxBytes)} a call may carry` };
  }
  return null;
}
