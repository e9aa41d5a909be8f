'use client';
import useSWR from 'swr';
import { api } from '../api';
import { useLiveEvent } from '../live';

/** /api/status, refreshed by `status` events and every 15 s as a fallback. */
export function useStatus() {
  const swr = useSWR('status', api.status, { refreshInterval: 15_000, dedupingInterval: 1000 });
  useLiveEvent('status', () => void swr.mutate());
  return swr;
}
