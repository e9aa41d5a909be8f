'use client';
// The app's single live connection, shared through context: components
// subscribe to event types without opening sockets of their own.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, type ReactNode } from 'react';
import { wsUrl } from './config';
import type { EventFrame, EventType } from './schemas';
import { useWebSocket, type WebSocketInfo } from './hooks/useWebSocket';

type Handler = (ev: EventFrame) => void;
type LiveContext = WebSocketInfo & { on: (type: EventType, h: Handler) => () => void };

const Ctx = createContext<LiveContext | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const handlers = useRef(new Map<EventType, Set<Handler>>());
  const onEvent = useCallback((ev: EventFrame) => {
    handlers.current.get(ev.type)?.forEach((h) => h(ev));
  }, []);
  const url = typeof window === 'undefined' ? '' : wsUrl();
  const info = useWebSocket({ url, onEvent });
  const on = useCallback((type: EventType, h: Handler) => {
    const set = handlers.current.get(type) ?? new Set<Handler>();
    set.add(h);
    handlers.current.set(type, set);
    return () => {
      set.delete(h);
    };
  }, []);
  const value = useMemo(() => ({ ...info, on }), [info, on]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useLive(): LiveContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useLive outside LiveProvider');
  return c;
}

/** Calls `handler` for every event of `type` (latest handler, stable subscription). */
export function useLiveEvent(type: EventType, handler: Handler): void {
  const { on } = useLive();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => on(type, (ev) => ref.current(ev)), [on, type]);
}
