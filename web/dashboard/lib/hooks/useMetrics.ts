'use client';
// Workload figures per target: SWR loads /api/metrics/summary once, then
// every `metrics` event is written straight into the cache (no round trip,
// so a poll reaches the screen in one render) and a background revalidation
// keeps the cache honest.
import useSWR, { type KeyedMutator } from 'swr';
import { api } from '../api';
import { useLiveEvent } from '../live';
import { MetricsPayload, type SummaryResponse, type TargetSummary } from '../schemas';

/** Merges one poll (a metrics event's payload) into a summary response. */
export function mergeMetricsEvent(
  current: SummaryResponse | undefined,
  target: string,
  payload: unknown,
): SummaryResponse | undefined {
  const p = MetricsPayload.safeParse(payload);
  if (!p.success) return current;
  const entry: TargetSummary = {
    target,
    polled: p.data.ts,
    interval_ms: p.data.interval_ms,
    baseline: p.data.baseline,
    reset_detected: p.data.reset_detected,
    evicted: p.data.evicted,
    hidden_rows: p.data.hidden_rows,
    summary: p.data.summary,
    database: p.data.database,
  };
  const targets = current?.targets ?? [];
  const i = targets.findIndex((t) => t.target === target);
  // An older poll arriving late never overwrites a newer one.
  if (i >= 0 && (targets[i]?.polled ?? 0) > entry.polled) return current;
  const next = i >= 0 ? targets.map((t, j) => (j === i ? entry : t)) : [...targets, entry];
  return { targets: next };
}

export type MetricsResult = {
  data: SummaryResponse | undefined;
  error: Error | undefined;
  isLoading: boolean;
  mutate: KeyedMutator<SummaryResponse>;
};

export function useMetrics(target?: string): MetricsResult {
  const swr = useSWR(['summary', target ?? ''], () => api.summary(target), {
    revalidateOnFocus: true,
    dedupingInterval: 1000,
  });
  useLiveEvent('metrics', (ev) => {
    if (target && ev.target !== target) return;
    void swr.mutate((cur) => mergeMetricsEvent(cur, ev.target, ev.payload), { revalidate: false });
  });
  return { data: swr.data, error: swr.error as Error | undefined, isLoading: swr.isLoading, mutate: swr.mutate };
}
