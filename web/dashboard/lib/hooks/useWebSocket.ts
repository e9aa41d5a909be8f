'use client';
// One WebSocket to the engine: reconnects with capped exponential backoff
// plus jitter (so a restarted engine is not hit by every tab at once),
// re-sends the subscription after every (re)connect, and validates every
// frame before handing it on. Invalid frames are counted and dropped.
// With an API token saved, the first frame is {"type":"auth","token":…}: the
// engine sends nothing before it when it has a token, and closes with 1008
// without it; then the hook waits for a token instead of retrying.
import { useEffect, useRef, useState } from 'react';
import { parseFrame, type EventFrame, type EventType } from '../schemas';
import { getToken, onTokenChange } from '../token';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'unauthorized';

/** The close code of a WebSocket the engine refused for its token. */
const POLICY_VIOLATION = 1008;

export type WebSocketOptions = {
  url: string;
  targets?: string[];
  topics?: EventType[];
  onEvent: (ev: EventFrame) => void;
  /** First retry delay; doubles up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Injected in tests. */
  create?: (url: string) => WebSocket;
  /** The API token; injected in tests (default: the saved one). */
  token?: () => string;
};

export type WebSocketInfo = {
  state: ConnectionState;
  /** Consecutive failed attempts since the last good connection. */
  attempts: number;
  lastEventTs: number | null;
  invalidFrames: number;
};

/** The delay before retry `attempt` (1-based): min·2^(n-1), capped, ±20 % jitter. */
export function backoffDelay(attempt: number, minMs = 500, maxMs = 10_000, rand: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * rand()));
}

export function useWebSocket(opts: WebSocketOptions): WebSocketInfo {
  const [info, setInfo] = useState<WebSocketInfo>({
    state: 'connecting',
    attempts: 0,
    lastEventTs: null,
    invalidFrames: 0,
  });
  // Handlers and subscription change without tearing the socket down.
  const latest = useRef(opts);
  latest.current = opts;
  const wsRef = useRef<WebSocket | null>(null);
  const subKey = JSON.stringify([opts.targets ?? [], opts.topics ?? []]);

  useEffect(() => {
    if (!opts.url) return;
    let closed = false;
    let attempts = 0;
    let refused = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const subscribe = (ws: WebSocket) => {
      const { targets = [], topics = [] } = latest.current;
      if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'subscribe', targets, topics }));
    };

    const connect = () => {
      const make = latest.current.create ?? ((u: string) => new WebSocket(u));
      let ws: WebSocket;
      try {
        ws = make(opts.url);
      } catch {
        return retry();
      }
      wsRef.current = ws;
      ws.onopen = () => {
        attempts = 0;
        const token = (latest.current.token ?? getToken)();
        if (token) ws.send(JSON.stringify({ type: 'auth', token }));
        subscribe(ws);
      };
      ws.onmessage = (m: MessageEvent) => {
        const frame = typeof m.data === 'string' ? parseFrame(m.data) : null;
        if (!frame) {
          setInfo((s) => ({ ...s, invalidFrames: s.invalidFrames + 1 }));
          return;
        }
        if (frame.type === 'hello') return;
        // "live" only once the engine confirmed the subscription.
        if (frame.type === 'subscribed') {
          setInfo((s) => ({ ...s, state: 'live', attempts: 0 }));
          return;
        }
        if (frame.type === 'pong' || frame.type === 'error') return;
        setInfo((s) => ({ ...s, lastEventTs: frame.ts }));
        latest.current.onEvent(frame);
      };
      ws.onclose = (ev?: CloseEvent) => {
        if (wsRef.current === ws) wsRef.current = null;
        if (ev?.code === POLICY_VIOLATION) {
          // Retrying with the same (missing or wrong) token cannot help.
          refused = true;
          setInfo((s) => ({ ...s, state: 'unauthorized' }));
          return;
        }
        retry();
      };
      ws.onerror = () => {
        // onclose follows and schedules the retry.
      };
    };

    const retry = () => {
      if (closed) return;
      attempts += 1;
      setInfo((s) => ({ ...s, state: attempts > 6 ? 'offline' : 'reconnecting', attempts }));
      timer = setTimeout(connect, backoffDelay(attempts, latest.current.minDelayMs, latest.current.maxDelayMs));
    };

    connect();
    // A token saved (or changed) after a refusal: try again at once.
    const unlisten = onTokenChange(() => {
      if (!refused || closed) return;
      refused = false;
      attempts = 0;
      setInfo((s) => ({ ...s, state: 'connecting' }));
      connect();
    });
    return () => {
      closed = true;
      unlisten();
      if (timer) clearTimeout(timer);
      const ws = wsRef.current;
      wsRef.current = null;
      if (ws) {
        ws.onclose = null;
        ws.close();
      }
    };
  }, [opts.url]);

  // A changed target selection resubscribes on the open socket.
  useEffect(() => {
    const ws = wsRef.current;
    if (ws && ws.readyState === 1) {
      const { targets = [], topics = [] } = latest.current;
      ws.send(JSON.stringify({ type: 'subscribe', targets, topics }));
    }
  }, [subKey]);

  return info;
}
