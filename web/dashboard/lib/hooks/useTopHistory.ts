'use client';
// Histories of the hottest statements plus the database series, for the
// Overview's PerformanceChart and heatmap. Refreshed by metrics events but at
// most every 5 s: the charts move by minutes, the cards by polls.
import { useMemo } from 'react';
import useSWR from 'swr';
import { api, type HistoryRange } from '../api';
import { useLiveEvent } from '../live';
import type { DatabasePoint, Statement } from '../schemas';
import type { SeriesInput } from '../series';
import { throttle } from '../throttle';

export type TopHistory = {
  statements: Statement[];
  series: SeriesInput[];
  db: DatabasePoint[];
  from: number;
  to: number;
};

const RANGE_MS: Record<HistoryRange, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };

async function load(target: string | undefined, range: HistoryRange, n: number): Promise<TopHistory> {
  const hot = await api.hot({ limit: n, sort: 'total_time', window: 'cumulative', target });
  const dbTargets = [...new Set(hot.statements.map((s) => s.target ?? target).filter((t): t is string => !!t))];
  const [histories, dbs] = await Promise.all([
    Promise.all(hot.statements.map((s) => api.statementHistory(s.fingerprint, range, s.target ?? target))),
    Promise.all(dbTargets.map((t) => api.databaseHistory(range, t))),
  ]);
  const to = Date.now();
  return {
    statements: hot.statements,
    series: histories.map((h, i) => ({ key: hot.statements[i]?.fingerprint ?? h.fingerprint, points: h.points })),
    db: dbs.flatMap((d) => d.points),
    from: to - RANGE_MS[range],
    to,
  };
}

export function useTopHistory(target: string | undefined, range: HistoryRange, n = 8) {
  const swr = useSWR(['top-history', target ?? '', range, n], () => load(target, range, n), {
    revalidateOnFocus: false,
    dedupingInterval: 2000,
  });
  const refresh = useMemo(() => throttle(() => void swr.mutate(), 5000), [swr.mutate]);
  useLiveEvent('metrics', (ev) => {
    if (!target || ev.target === target) refresh();
  });
  return swr;
}

export { RANGE_MS };
