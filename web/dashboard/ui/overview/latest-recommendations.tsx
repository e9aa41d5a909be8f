'use client';
import Link from 'next/link';
import { useRecommendations } from '@/lib/hooks/useRecommendations';
import { formatSpeedup } from '@/lib/format';
import { StatusBadge, kindLabel } from '../recommendations/benefit';
import { ConfidenceIndicator } from '../recommendations/confidence-indicator';

export function LatestRecommendations({ target }: { target?: string }) {
  const { data, error } = useRecommendations(target);
  const recs = (data?.suggestions ?? []).filter((r) => r.status !== 'dismissed').slice(0, 6);
  return (
    <section className="panel p-3" aria-labelledby="latest-recs">
      <div className="mb-1 flex items-center justify-between">
        <h2 id="latest-recs" className="panel-title">
          Latest recommendations
        </h2>
        <Link href="/recommendations/" className="text-xs text-sky-700 hover:underline dark:text-sky-400">
          all
        </Link>
      </div>
      {error && <p className="text-red-600">{String(error.message ?? error)}</p>}
      {!data && !error && <div className="h-24 animate-pulse" aria-hidden />}
      {data && recs.length === 0 && <p className="muted">No advice yet: the advisor runs every analysis interval.</p>}
      <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
        {recs.map((r) => (
          <li key={r.id} className="flex items-center gap-2 py-1.5">
            <span className="badge shrink-0 bg-zinc-100 dark:bg-zinc-800">{kindLabel[r.kind] ?? r.kind}</span>
            <Link href={`/recommendations/?id=${r.id}`} className="min-w-0 flex-1 truncate hover:underline" title={r.title}>
              {r.title}
            </Link>
            <span className="hidden text-xs tabular-nums sm:inline" title="estimated / measured">
              {formatSpeedup(r.estimated_speedup)} / {formatSpeedup(r.measured_speedup)}
            </span>
            <StatusBadge status={r.status} />
            <span className="hidden md:inline">
              <ConfidenceIndicator value={r.confidence} />
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
