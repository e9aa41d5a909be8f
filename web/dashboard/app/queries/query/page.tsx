'use client';
import dynamic from 'next/dynamic';
import Link from 'next/link';
import { useMemo, useState } from 'react';
import useSWR from 'swr';
import { api, type HistoryRange } from '@/lib/api';
import { formatCount, formatMs, formatPercent } from '@/lib/format';
import { useRecommendations } from '@/lib/hooks/useRecommendations';
import { useLiveEvent } from '@/lib/live';
import { throttle } from '@/lib/throttle';
import { useQueryParam } from '@/lib/use-query-param';
import { RangeToggle } from '@/ui/overview/workload-panels';
import { PlanTree } from '@/ui/plan/plan-tree';
import { RecommendationCard } from '@/ui/recommendations/recommendation-card';
import { RecommendationModal } from '@/ui/recommendations/recommendation-modal';
import { useStatus } from '@/lib/hooks/useStatus';
import { SqlBlock } from '@/ui/sql-block';

const HistoryCharts = dynamic(() => import('@/ui/queries/history-charts'), {
  ssr: false,
  loading: () => <div className="panel h-44 animate-pulse" />,
});

function QueryDetail({ fp, target }: { fp: string; target?: string }) {
  const [range, setRange] = useState<HistoryRange>('1h');
  const history = useSWR(['history', fp, range, target ?? ''], () => api.statementHistory(fp, range, target));
  const plan = useSWR(['plan', fp, target ?? ''], () => api.plan(fp, target), { revalidateOnFocus: false });
  const recs = useRecommendations(target);
  const { data: status } = useStatus();
  const [open, setOpen] = useState<string | null>(null);
  const refresh = useMemo(() => throttle(() => void history.mutate(), 3000), [history.mutate]);
  useLiveEvent('metrics', (ev) => {
    if (!target || ev.target === target) refresh();
  });
  const advice = (recs.data?.suggestions ?? []).filter((r) => r.statements.some((s) => s.fingerprint === fp));
  const points = history.data?.points ?? [];
  const totals = points.reduce(
    (a, p) => ({ calls: a.calls + p.calls, time: a.time + p.total_time_ms, rows: a.rows + p.rows, hit: a.hit + p.shared_blks_hit, read: a.read + p.shared_blks_read }),
    { calls: 0, time: 0, rows: 0, hit: 0, read: 0 },
  );
  const query = history.data?.query ?? plan.data?.query;
  const openRec = advice.find((r) => r.id === open);

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <Link href="/queries/" className="text-xs text-sky-700 hover:underline dark:text-sky-400">
          ← Queries
        </Link>
        <h1 className="text-base font-semibold">
          Statement <span className="sql">{fp}</span>
        </h1>
        {target && <span className="badge bg-zinc-100 dark:bg-zinc-800">{target}</span>}
      </div>
      {query && <SqlBlock sql={query} />}
      {history.error && <p className="text-red-600">{history.error.message}</p>}
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="flex flex-wrap gap-4 text-xs tabular-nums">
          <span>calls {formatCount(totals.calls)}</span>
          <span>total {formatMs(totals.time)}</span>
          <span>mean {formatMs(totals.calls ? totals.time / totals.calls : 0)}</span>
          <span>rows {formatCount(totals.rows)}</span>
          <span>hit {formatPercent(totals.hit + totals.read ? totals.hit / (totals.hit + totals.read) : 1)}</span>
          <span className="muted">over {range}</span>
        </div>
        <RangeToggle value={range} onChange={setRange} />
      </div>
      <HistoryCharts points={points} daily={range === '7d'} />
      <div className="grid gap-3 xl:grid-cols-3">
        <section className="panel min-w-0 p-3 xl:col-span-2" aria-labelledby="plan-title">
          <h2 id="plan-title" className="panel-title mb-2">
            Plan <span className="muted font-normal">(EXPLAIN, generic plan for $n parameters; never executed)</span>
          </h2>
          {plan.error && <p className="text-amber-700 dark:text-amber-400">{plan.error.message}</p>}
          {plan.data ? <PlanTree root={plan.data.plan.root} findings={plan.data.findings} /> : !plan.error && <div className="h-32 animate-pulse" />}
        </section>
        <section className="min-w-0 space-y-2" aria-labelledby="advice-title">
          <h2 id="advice-title" className="panel-title">
            Index advice
          </h2>
          {advice.length === 0 && <p className="muted text-xs">No recommendation serves this statement.</p>}
          {advice.map((r) => (
            <RecommendationCard key={r.id} rec={r} onOpen={() => setOpen(r.id)} />
          ))}
        </section>
      </div>
      {openRec && <RecommendationModal rec={openRec} open onOpenChange={(o) => !o && setOpen(null)} applyEnabled={!!status?.apply?.enabled} />}
    </div>
  );
}

export default function QueryPage() {
  const fp = useQueryParam('fp');
  const target = useQueryParam('target');
  if (fp === undefined) return <div className="panel h-40 animate-pulse" />;
  if (!fp) return <p>No statement given: open one from the <Link href="/queries/" className="text-sky-700 underline">Queries</Link> page.</p>;
  return <QueryDetail fp={fp} target={target ?? undefined} />;
}
