'use client';
import { formatAgo } from '@/lib/format';
import type { Recommendation } from '@/lib/schemas';
import { BenefitFigures, StatusBadge, Verdict, kindLabel } from './benefit';
import { ConfidenceIndicator } from './confidence-indicator';

export function RecommendationCard({ rec, onOpen }: { rec: Recommendation; onOpen: () => void }) {
  return (
    <article className="panel flex flex-col gap-2 p-3" data-testid="recommendation-card" data-id={rec.id} data-kind={rec.kind}>
      <div className="flex flex-wrap items-center gap-1.5">
        <span className="badge bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900">{kindLabel[rec.kind] ?? rec.kind}</span>
        <StatusBadge status={rec.status} />
        {rec.sandbox && <Verdict v={rec.sandbox.verdict} prefix="sandbox" />}
        {rec.narrative && <span className="badge bg-violet-100 text-violet-800 dark:bg-violet-900/50 dark:text-violet-300">LLM</span>}
        <span className="muted ml-auto text-xs">{rec.target}</span>
      </div>
      <h3 className="font-medium leading-snug">
        <button type="button" onClick={onOpen} className="text-left hover:underline" data-testid="open-recommendation">
          {rec.title}
        </button>
      </h3>
      <BenefitFigures rec={rec} />
      <div className="flex items-center justify-between gap-2">
        <ConfidenceIndicator value={rec.confidence} />
        <span className="muted text-xs">updated {formatAgo(rec.updated)}</span>
      </div>
      {rec.last_error && <p className="text-xs text-red-600 dark:text-red-400">{rec.last_error}</p>}
    </article>
  );
}
