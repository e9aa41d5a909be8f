'use client';
import useSWR from 'swr';
import { api } from '../api';
import { useLiveEvent } from '../live';

/** /api/alerts, listed again at every `alert` event (one per target and
 *  poll that changed something) and every 15 s as a fallback. */
export function useAlerts(target?: string) {
  const swr = useSWR(['alerts', target ?? ''], () => api.alerts(target), { refreshInterval: 15_000, dedupingInterval: 500 });
  useLiveEvent('alert', (ev) => {
    if (!target || ev.target === target) void swr.mutate();
  });
  return swr;
}
