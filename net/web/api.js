// api.js: the REST calls the client makes (docs/api.md) and the signed-in
// identity, kept in localStorage ("wb.auth": {token, userId, name, exp}).
// A pasted token is accepted as it is; its payload (not its signature, which
// only the server can check) gives the name and expiry shown in the UI.

const KEY = "wb.auth";

export function getAuth() {
  try {
    const a = JSON.parse(localStorage.getItem(KEY) || "null");
    if (a && a.token && (!a.exp || a.exp * 1000 > Date.now())) return a;
  } catch (e) { /* ignore a damaged entry */ }
  return null;
}

export function signOut() { localStorage.removeItem(KEY); }

function payloadOf(token) {
  const p = token.split(".")[1];
  if (!p) throw new Error("not a JWT");
  const b64 = p.replace(/-/g, "+").replace(/_/g, "/");
  const json = decodeURIComponent(Array.from(atob(b64), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
  return JSON.parse(json);
}

export function useToken(token) {
  const claims = payloadOf(token.trim());
  const a = { token: token.trim(), userId: claims.sub, name: claims.name || claims.sub, exp: claims.exp || 0 };
  localStorage.setItem(KEY, JSON.stringify(a));
  return a;
}

async function call(method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { /* empty */ }
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || "HTTP " + res.status);
    err.status = res.status;
    throw err;
  }
  return data;
}

export async function guestSignIn(name) {
  const d = await call("POST", "/api/v1/auth/guest", { name });
  const a = { token: d.token, userId: d.userId, name: d.name, exp: d.expiresAt };
  localStorage.setItem(KEY, JSON.stringify(a));
  return a;
}

export const listBoards = (token) => call("GET", "/api/v1/boards", undefined, token);
export const createBoard = (token, title) => call("POST", "/api/v1/boards", { title }, token);
export const getBoard = (token, id) => call("GET", "/api/v1/boards/" + encodeURIComponent(id), undefined, token);
