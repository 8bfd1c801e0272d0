/**
 * Upload progress for tRPC calls whose input is a file (datasets.upload sends one file's bytes as the body).
 * fetch cannot report how much of a request body has been sent, XMLHttpRequest can: `xhrFetch` is a fetch for
 * tRPC's httpLink that uses it and tells the listener registered for that very file how many bytes went out.
 */
type Listener = (sent: number, total: number) => void;
const listeners = new WeakMap<Blob, Listener>();

/** Calls `fn` with (bytes sent, bytes total) while `file` uploads. Returns an unsubscribe. */
export function onUploadProgress(file: Blob, fn: Listener): () => void {
  listeners.set(file, fn);
  return () => {
    if (listeners.get(file) === fn) listeners.delete(file);
  };
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return headers;
}

export const xhrFetch = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method ?? "GET", typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    xhr.responseType = "arraybuffer";
    new Headers(init.headers).forEach((value, key) => {
      xhr.setRequestHeader(key, value);
    });
    const body = init.body;
    const listener = body instanceof Blob ? listeners.get(body) : undefined;
    if (listener) xhr.upload.onprogress = (e) => listener(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.onload = () =>
      resolve(
        new Response(xhr.response as ArrayBuffer, { status: xhr.status, statusText: xhr.statusText, headers: parseHeaders(xhr.getAllResponseHeaders()) }),
      );
    xhr.onerror = () => reject(new TypeError("the upload failed: the server could not be reached"));
    xhr.onabort = () => reject(new DOMException("the upload was cancelled", "AbortError"));
    init.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(body as XMLHttpRequestBodyInit | null | undefined);
  });
