// The token (this tab only), REST calls with problem details, and the live WebSocket.
const KEY = "tradai.token";
const WRITE_ROLES = ["researcher", "admin"];

export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
  }
}

/** The JWT's claims, read only to hide what the roles cannot do: the server decides. */
export function claimsOf(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("this is not a JWT (expected three parts separated by dots)");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  const roles = Array.isArray(claims.roles) ? claims.roles : Array.isArray(claims["cognito:groups"]) ? claims["cognito:groups"] : [];
  return { sub: claims.sub || "?", roles, exp: claims.exp };
}

export const session = {
  token: null,
  claims: null,
  load() {
    const token = sessionStorage.getItem(KEY);
    if (!token) return false;
    try {
      this.set(token);
      return true;
    } catch {
      this.clear();
      return false;
    }
  },
  set(token) {
    const claims = claimsOf(token);
    this.token = token;
    this.claims = claims;
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    this.token = null;
    this.claims = null;
    sessionStorage.removeItem(KEY);
  },
  expired() {
    return Boolean(this.claims?.exp && this.claims.exp * 1000 < Date.now());
  },
  can(action) {
    const roles = this.claims?.roles || [];
    if (action === "submit" || action === "cancel") return roles.some((r) => WRITE_ROLES.includes(r));
    // API.md: researchers register versions and request promotions, approvers decide them (never
    // their own: the server's four-eyes rule), operators deploy and roll back; admin does all.
    const who = {
      register: ["researcher", "admin"],
      "request-promotion": ["researcher", "admin"],
      approve: ["approver", "admin"],
      reject: ["approver", "admin"],
      deploy: ["operator", "admin"],
      rollback: ["operator", "admin"],
    }[action];
    if (who) return roles.some((r) => who.includes(r));
    return roles.length > 0;
  },
};

let unauthorized = () => {};
/** Called with a message whenever the server answers 401: the UI goes back to sign-in. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    let detail = "";
    try { detail = (await res.json()).detail || ""; } catch { /* not JSON */ }
    unauthorized(`The server refused the token (401${detail ? `: ${detail}` : ""}). Sign in again with a valid token.`);
    throw new Problem(401, { detail: "signed out" });
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* not JSON */ }
    throw new Problem(res.status, problem);
  }
  if (raw) return res;
  return res.status === 204 ? null : res.json();
}

/** One WebSocket for the page; streams resume after a reconnect from the last position seen. */
export class Live {
  constructor(onState, onResync) {
    this.subs = new Map(); // stream -> {handler, since}
    this.socket = null;
    this.closed = false;
    this.retry = 500;
    this.onState = onState || (() => {});
    this.onResync = onResync || (() => {}); // events were missed: the page reloads its state
  }

  async connect() {
    if (this.closed || this.connecting) return;
    this.connecting = true;
    let ticket;
    try {
      ticket = await api("/ws/token", { method: "POST" });
    } catch (error) {
      this.connecting = false;
      if (error.status !== 401) this.later();
      return;
    }
    this.connecting = false;
    if (this.closed) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}/api/v1/ws?token=${encodeURIComponent(ticket.token)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.retry = 500;
      this.onState(true);
      for (const stream of this.subs.keys()) this.send(stream);
    };
    socket.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      const sub = this.subs.get(msg.stream);
      if (!sub) return;
      if (msg.type === "refused") return this.refused(msg.stream, sub, msg.data || {});
      if (typeof msg.position === "number" && msg.type !== "unsubscribed") sub.since = Math.max(sub.since ?? 0, msg.position);
      if (msg.type === "subscribed" || msg.type === "unsubscribed") return sub.ready?.();
      sub.handler(msg);
    };
    socket.onclose = (e) => {
      if (this.socket === socket) this.socket = null;
      // The server closes the stream when its (single-use) token expires: renew it at once and
      // resume every stream from the last position seen (onopen sends `since`).
      if (e.code === 1008 && /expired/.test(e.reason || "") && !this.closed) {
        this.retry = 500;
        this.connect();
        return;
      }
      this.onState(false);
      this.later();
    };
  }

  /** A replay the server refused: ask again when its budget allows, or, when the gap is too
   * long to replay at all, subscribe from now and let the page reload its state over REST. */
  refused(stream, sub, data) {
    if (data.retry_after) {
      setTimeout(() => { if (this.subs.get(stream) === sub && this.socket?.readyState === WebSocket.OPEN) this.send(stream); }, data.retry_after * 1000);
      return;
    }
    sub.since = null;
    if (this.socket?.readyState === WebSocket.OPEN) this.send(stream);
    this.onResync(stream);
  }

  later() {
    if (this.closed) return;
    setTimeout(() => this.connect(), this.retry);
    this.retry = Math.min(this.retry * 2, 10000);
  }

  send(stream) {
    const sub = this.subs.get(stream);
    const msg = { action: "subscribe", stream };
    if (sub.since !== null && sub.since !== undefined) msg.since = sub.since;
    this.socket.send(JSON.stringify(msg));
  }

  /** Resolves once the server confirmed (after replaying what came after `since`). */
  subscribe(stream, handler, since = null) {
    return new Promise((resolve) => {
      this.subs.set(stream, { handler, since, ready: resolve });
      if (this.socket?.readyState === WebSocket.OPEN) this.send(stream);
      else if (!this.socket) this.connect(); // no-op while connecting: onopen sends it
    });
  }

  close() {
    this.closed = true;
    this.subs.clear();
    this.socket?.close();
    this.socket = null;
  }
}

/** A job as the read model has it once it applied `version`: an event on the live stream may
 * arrive a moment before the read model (another subscriber of the same log) caught up. */
export async function jobAtLeast(id, version, tries = 50) {
  let job = await api(`/backtests/${id}`);
  for (let i = 1; i < tries && job.version < version; i++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * i, 500)));
    job = await api(`/backtests/${id}`);
  }
  return job;
}
