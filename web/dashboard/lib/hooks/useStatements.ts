'use client';
import { useMemo } from 'react';
import useSWR from 'swr';
import { api } from '../api';
import { useLiveEvent } from '../live';
import { throttle } from '../throttle';

/** Every statement of the latest poll (up to 10,000), refetched after polls
 *  but at most every 2 s: a big workload's list is megabytes. */
export function useStatements(target?: string) {
  const swr = useSWR(['raw', target ?? ''], () => api.raw({ limit: 10_000, target }), { dedupingInterval: 1000 });
  const refresh = useMemo(() => throttle(() => void swr.mutate(), 2000), [swr.mutate]);
  useLiveEvent('metrics', (ev) => {
    if (!target || ev.target === target) refresh();
  });
  return swr;
}
