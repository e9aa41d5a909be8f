'use client';
import { useLive } from '@/lib/live';
import { formatAgo } from '@/lib/format';
import type { ConnectionState } from '@/lib/hooks/useWebSocket';

const look: Record<ConnectionState, { dot: string; label: string }> = {
  connecting: { dot: 'bg-zinc-400', label: 'Connecting' },
  live: { dot: 'bg-emerald-500', label: 'Live' },
  reconnecting: { dot: 'bg-amber-500 animate-pulse', label: 'Reconnecting' },
  offline: { dot: 'bg-red-500', label: 'Offline' },
  unauthorized: { dot: 'bg-red-500', label: 'Needs token' },
};

/** The WebSocket's state, always visible: a DBA must know when numbers are stale. */
export function ConnectionIndicator() {
  const { state, attempts, lastEventTs } = useLive();
  const l = look[state];
  const title =
    state === 'live'
      ? `Live updates; last event ${formatAgo(lastEventTs)}`
      : state === 'connecting'
        ? 'Opening the live connection'
        : state === 'unauthorized'
          ? 'Live updates need the API token: save it on the Settings page'
          : `Connection lost; retry ${attempts}`;
  return (
    <span
      role="status"
      aria-live="polite"
      data-testid="connection"
      data-state={state}
      title={title}
      className="inline-flex items-center gap-1.5 rounded-full border border-zinc-200 px-2 py-0.5 text-xs dark:border-zinc-700"
    >
      <span className={`h-2 w-2 rounded-full ${l.dot}`} aria-hidden />
      {l.label}
    </span>
  );
}
