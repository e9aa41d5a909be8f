'use client';
import { useEffect, useMemo, useState } from 'react';
import { useRecommendations } from '@/lib/hooks/useRecommendations';
import { useStatus } from '@/lib/hooks/useStatus';
import { useTarget } from '@/lib/target';
import { useQueryParam } from '@/lib/use-query-param';
import { RecommendationCard } from '@/ui/recommendations/recommendation-card';
import { RecommendationModal } from '@/ui/recommendations/recommendation-modal';
import { kindLabel } from '@/ui/recommendations/benefit';

const STATUSES = ['open', 'applied', 'dismissed', 'all'] as const;
type StatusFilter = (typeof STATUSES)[number];

export default function RecommendationsPage() {
  const { target } = useTarget();
  const { data, error } = useRecommendations(target);
  const { data: status } = useStatus();
  const idParam = useQueryParam('id');
  const [open, setOpen] = useState<string | null>(null);
  const [show, setShow] = useState<StatusFilter>('open');
  const [kind, setKind] = useState('all');
  useEffect(() => {
    if (idParam) setOpen(idParam);
  }, [idParam]);
  const all = data?.suggestions ?? [];
  const kinds = useMemo(() => [...new Set(all.map((r) => r.kind))], [all]);
  const recs = all.filter(
    (r) =>
      (kind === 'all' || r.kind === kind) &&
      (show === 'all' ||
        (show === 'open' && r.status !== 'applied' && r.status !== 'dismissed') ||
        (show !== 'open' && r.status === show)),
  );
  const current = all.find((r) => r.id === open);
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="mr-auto text-base font-semibold">Recommendations</h1>
        <label className="text-xs">
          <span className="sr-only">Status</span>
          <select className="input py-1 text-xs" value={show} onChange={(e) => setShow(e.target.value as StatusFilter)} aria-label="Status">
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <select className="input py-1 text-xs" value={kind} onChange={(e) => setKind(e.target.value)} aria-label="Kind">
          <option value="all">all kinds</option>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {kindLabel[k] ?? k}
            </option>
          ))}
        </select>
      </div>
      {status && !status.apply?.enabled && (
        <p className="rounded-md border border-amber-300 bg-amber-50 p-2 text-xs dark:border-amber-800 dark:bg-amber-950/40">
          Applying is off: {status.apply?.message ?? 'start the engine with --api-token'}.
        </p>
      )}
      {error && <p className="text-red-600">{error.message}</p>}
      {!data && !error && <div className="panel h-40 animate-pulse" />}
      {data && recs.length === 0 && <p className="muted">Nothing here.</p>}
      <div className="grid gap-3 md:grid-cols-2 2xl:grid-cols-3">
        {recs.map((r) => (
          <RecommendationCard key={r.id} rec={r} onOpen={() => setOpen(r.id)} />
        ))}
      </div>
      {current && (
        <RecommendationModal rec={current} open onOpenChange={(o) => !o && setOpen(null)} applyEnabled={!!status?.apply?.enabled} />
      )}
    </div>
  );
}
