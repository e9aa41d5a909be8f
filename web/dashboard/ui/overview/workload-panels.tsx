'use client';
import dynamic from 'next/dynamic';
import { useMemo, useState } from 'react';
import type { HistoryRange } from '@/lib/api';
import { useTopHistory } from '@/lib/hooks/useTopHistory';
import { bucketWidth, heatmap, timeShareRows } from '@/lib/series';
import { QueryHeatmap } from './query-heatmap';

// recharts is the heaviest dependency: load it after the cards have painted.
const PerformanceChart = dynamic(() => import('./performance-chart'), {
  ssr: false,
  loading: () => <div className="h-64 animate-pulse rounded bg-zinc-100 dark:bg-zinc-800" />,
});

export function RangeToggle({ value, onChange }: { value: HistoryRange; onChange: (r: HistoryRange) => void }) {
  return (
    <div role="radiogroup" aria-label="Time range" className="inline-flex overflow-hidden rounded-md border border-zinc-300 text-xs dark:border-zinc-700">
      {(['1h', '24h', '7d'] as const).map((r) => (
        <button
          key={r}
          type="button"
          role="radio"
          aria-checked={value === r}
          onClick={() => onChange(r)}
          className={`px-2 py-0.5 ${value === r ? 'bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900' : 'hover:bg-zinc-100 dark:hover:bg-zinc-800'}`}
        >
          {r}
        </button>
      ))}
    </div>
  );
}

export function WorkloadPanels({ target }: { target?: string }) {
  const [range, setRange] = useState<HistoryRange>('1h');
  const { data, error } = useTopHistory(target, range);
  const view = useMemo(() => {
    if (!data) return null;
    const width = bucketWidth(data.to - data.from, range === '1h' ? 60 : 96);
    const keys = data.series.map((s) => s.key);
    const labels: Record<string, string> = {};
    const targets: Record<string, string> = {};
    for (const s of data.statements) {
      labels[s.fingerprint] = s.query;
      if (s.target) targets[s.fingerprint] = s.target;
    }
    return {
      keys,
      labels,
      targets,
      rows: timeShareRows(data.series, data.db, data.from, data.to, width),
      map: heatmap(data.series, data.from, data.to, width),
    };
  }, [data, range]);
  return (
    <>
      <section className="panel min-w-0 p-3" aria-labelledby="perf-chart">
        <div className="mb-2 flex flex-wrap items-center justify-between gap-2">
          <h2 id="perf-chart" className="panel-title">
            Share of query time, top statements
          </h2>
          <RangeToggle value={range} onChange={setRange} />
        </div>
        {error && <p className="text-red-600">{error.message}</p>}
        {view ? <PerformanceChart rows={view.rows} keys={view.keys} labels={view.labels} /> : <div className="h-64 animate-pulse rounded bg-zinc-100 dark:bg-zinc-800" />}
      </section>
      <section className="panel min-w-0 p-3" aria-labelledby="heatmap-title">
        <h2 id="heatmap-title" className="panel-title mb-2">
          Query time heatmap
        </h2>
        {view ? <QueryHeatmap map={view.map} labels={view.labels} targets={view.targets} /> : <div className="h-40 animate-pulse" />}
      </section>
    </>
  );
}
