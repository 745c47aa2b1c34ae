// The chat HTTP API (collab-chat-api(7)) as small async functions. Authentication is the
// HttpOnly session cookie only: page scripts never see or keep the token. Errors become ApiError
// with the server's status and code; callers decide what a 404 means (for the parts of the API
// a server may not have yet, the UI hides or explains the feature).
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.body = e;
  }
}

let onUnauthorized = null;
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (body instanceof Blob) {
    init.body = body;
    init.headers['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch('/api/v1' + path, init);
  let data = null;
  if (r.status !== 204) {
    const text = await r.text();
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  }
  if (!r.ok) {
    const err = new ApiError(r.status, data);
    if (r.status === 401 && !opts.noAuthRedirect && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b ?? {}, o);
export const put = (p, b, o) => api('PUT', p, b ?? {}, o);
export const patch = (p, b, o) => api('PATCH', p, b ?? {}, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

export const enc = encodeURIComponent;
export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') parts.push(`${k}=${enc(v)}`);
  return parts.length ? '?' + parts.join('&') : '';
}

export function fileUrl(room, id, thumb) {
  return `/api/v1/rooms/${enc(room)}/files/${enc(id)}${thumb ? '/thumb' : ''}`;
}

export function newClientId() {
  return 'web-' + (crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(36).slice(2) + Date.now());
}
