'use client';
// Query × time heatmap in plain SVG: recharts has no heatmap, and a few
// hundred <rect>s need no library. Colour is log-scaled total time.
import Link from 'next/link';
import { formatClock, formatMs, oneLine } from '@/lib/format';
import { intensity, type Heatmap } from '@/lib/series';

export function QueryHeatmap({ map, labels, targets }: { map: Heatmap; labels: Record<string, string>; targets: Record<string, string> }) {
  const n = map.buckets.length;
  if (n === 0 || map.rows.length === 0) return <p className="muted">No history yet.</p>;
  const first = map.buckets[0] ?? 0;
  const last = map.buckets[n - 1] ?? 0;
  return (
    <div className="space-y-1" data-testid="heatmap">
      {map.rows.map((r) => (
        <div key={r.key} className="grid grid-cols-[minmax(0,14rem)_1fr] items-center gap-2">
          <Link
            href={`/queries/query/?fp=${r.key}${targets[r.key] ? `&target=${targets[r.key]}` : ''}`}
            className="sql truncate text-sky-700 hover:underline dark:text-sky-400"
            title={labels[r.key]}
          >
            {oneLine(labels[r.key] ?? r.key)}
          </Link>
          <svg viewBox={`0 0 ${n} 1`} preserveAspectRatio="none" className="h-4 w-full rounded-sm bg-zinc-100 dark:bg-zinc-800" role="img" aria-label={`Query time over time for ${r.key}`}>
            {r.cells.map((v, i) =>
              v > 0 ? (
                <rect key={i} x={i} y={0} width={1.02} height={1} fill="#ea580c" fillOpacity={intensity(v, map.max)}>
                  <title>{`${formatClock(map.buckets[i] ?? 0)}: ${formatMs(v)}`}</title>
                </rect>
              ) : null,
            )}
          </svg>
        </div>
      ))}
      <div className="muted grid grid-cols-[minmax(0,14rem)_1fr] gap-2 text-[11px]">
        <span />
        <span className="flex justify-between">
          <span>{formatClock(first)}</span>
          <span>darker = more query time (log scale)</span>
          <span>{formatClock(last)}</span>
        </span>
      </div>
    </div>
  );
}
