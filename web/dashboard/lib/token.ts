// The engine's API token, kept in localStorage: the dashboard is a static
// page with no session. With a token set, the engine wants it on every POST
// and in the WebSocket's first frame.
const KEY = 'optischema.apiToken';
type Listener = (token: string) => void;
const listeners = new Set<Listener>();

export function getToken(): string {
  if (typeof window === 'undefined') return '';
  try {
    return window.localStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  try {
    if (token) window.localStorage.setItem(KEY, token);
    else window.localStorage.removeItem(KEY);
  } catch {
    // Private mode: the token lives for this page only.
  }
  listeners.forEach((l) => l(token));
}

export function onTokenChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
