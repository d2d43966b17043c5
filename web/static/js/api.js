// The dashboard's only way to the server: tokens, authorised fetches, and the live stream.
const ACCESS = "ae.access";
const REFRESH = "ae.refresh";
const USER = "ae.user";

export function saveTokens(body) {
  sessionStorage.setItem(ACCESS, body.access_token);
  sessionStorage.setItem(REFRESH, body.refresh_token);
  sessionStorage.setItem(USER, body.username || "admin");
}

export function username() {
  return sessionStorage.getItem(USER) || "";
}

function forget() {
  sessionStorage.removeItem(ACCESS);
  sessionStorage.removeItem(REFRESH);
}

// One way out: requests failing meanwhile (their session just ended) must not start a second
// navigation that would abort the first.
let leaving = false;

function leave() {
  if (leaving) return;
  leaving = true;
  window.location.assign("/login");
}

// Signing out revokes the tokens on the server too (best effort: the page leaves either way).
export async function signOut() {
  if (leaving) return;
  const access = sessionStorage.getItem(ACCESS);
  const refresh = sessionStorage.getItem(REFRESH);
  forget();
  leaving = true;
  if (access || refresh) {
    try {
      await fetch("/api/auth/logout", {
        method: "POST",
        headers: { Authorization: `Bearer ${access || ""}`, "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      });
    } catch {
      // unreachable server: the tokens expire on their own
    }
  }
  window.location.assign("/login");
}

function expired() {
  if (leaving) return;
  forget();
  leave();
}

export function hasSession() {
  return Boolean(sessionStorage.getItem(ACCESS));
}

let refreshing = null;

async function refreshTokens() {
  // One refresh at a time: parallel 401s all wait for the same new token.
  if (!refreshing) {
    refreshing = (async () => {
      const token = sessionStorage.getItem(REFRESH);
      if (!token) return false;
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!response.ok) return false;
      saveTokens(await response.json());
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body, status));
    this.status = status;
    this.body = body;
  }
}

function describe(body, status) {
  if (body && typeof body.message === "string") return body.message;
  if (body && typeof body.detail === "string") return body.detail;
  return `request failed (${status})`;
}

// Answers kept by URL with their ETag: a repeated read (the charts every few seconds) costs the
// server one lookup and a 304 when nothing changed. Bounded, oldest forgotten first.
const kept = new Map();
const KEEP = 40;
const MAX_RETRY_AFTER_S = 5;

function keep(path, etag, parsed) {
  kept.delete(path);
  kept.set(path, { etag, parsed });
  if (kept.size > KEEP) kept.delete(kept.keys().next().value);
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  let refreshed = false;
  let waited = false;
  for (;;) {
    const known = method === "GET" ? kept.get(path) : undefined;
    const response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${sessionStorage.getItem(ACCESS) || ""}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(known ? { "If-None-Match": known.etag } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && !refreshed) {
      refreshed = true;
      if (await refreshTokens()) continue;
    }
    if (response.status === 401) {
      expired();
      throw new ApiError(401, { detail: "signed out" });
    }
    if (response.status === 304 && known) return known.parsed;
    // Shed under load: wait as told, once, when it is short. A POST is safe to resend: its
    // Idempotency-Key makes the second the same Command.
    const retryAfter = Number(response.headers.get("Retry-After"));
    if (response.status === 503 && !waited && retryAfter > 0 && retryAfter <= MAX_RETRY_AFTER_S) {
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
      continue;
    }
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { detail: text }; }
    if (!response.ok) throw new ApiError(response.status, parsed);
    const etag = response.headers.get("ETag");
    if (method === "GET" && etag) keep(path, etag, parsed);
    return parsed;
  }
}

// "/api/orders" + {status: "NEW", side: ""} → "/api/orders?status=NEW" (empty values left out).
export function withQuery(path, params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

// Server-sent events over fetch, so the token travels in a header and never in a URL (or a log).
export function openStream(handlers, onStatus) {
  let cursor = null;
  let stopped = false;
  let delay = 1000;

  async function connect() {
    while (!stopped) {
      try {
        onStatus("connecting");
        const query = cursor === null ? "" : `?after=${cursor}`;
        const response = await fetch(`/api/stream${query}`, {
          headers: { Authorization: `Bearer ${sessionStorage.getItem(ACCESS) || ""}`,
                     Accept: "text/event-stream" },
        });
        if (response.status === 401) {
          if (!(await refreshTokens())) { expired(); return; }
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
        onStatus("live");
        delay = 1000;
        await consume(response.body.getReader());
      } catch (error) {
        onStatus("reconnecting");
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  async function consume(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    let message = {};
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === "\r" ? 2 : 1));
        if (line === "") {
          dispatch(message);
          message = {};
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const data = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          message[field] = field === "data" && message.data ? `${message.data}\n${data}` : data;
        }
      }
    }
  }

  function dispatch(message) {
    if (!message.data) return;
    if (message.id) cursor = Number(message.id);
    const handler = handlers[message.event || "message"];
    if (handler) {
      try { handler(JSON.parse(message.data)); } catch (error) { console.error(error); }
    }
  }

  connect();
  return () => { stopped = true; };
}
