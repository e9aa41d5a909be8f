import { formatBytes, formatMs, formatSpeedup } from '@/lib/format';
import type { Recommendation } from '@/lib/schemas';

export const kindLabel: Record<string, string> = {
  create_index: 'Create index',
  drop_index: 'Drop index',
  n_plus_one: 'N+1 pattern',
  rewrite: 'Rewrite',
};

const verdictTone: Record<string, string> = {
  faster: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300',
  improved: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300',
  safe: 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-300',
  no_gain: 'bg-zinc-200 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300',
  unchanged: 'bg-zinc-200 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300',
  regression: 'bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-300',
};

export function Verdict({ v, prefix }: { v: string; prefix?: string }) {
  return (
    <span className={`badge ${verdictTone[v] ?? verdictTone.no_gain}`}>
      {prefix ? `${prefix} ` : ''}
      {v.replace('_', ' ')}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const tone =
    status === 'applied'
      ? 'bg-emerald-600 text-white'
      : status === 'dismissed' || status === 'rolled_back'
        ? 'bg-zinc-300 text-zinc-700 dark:bg-zinc-700 dark:text-zinc-200'
        : status === 'tested'
          ? 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-300'
          : 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-300';
  return (
    <span className={`badge ${tone}`} data-testid="status-badge">
      {status.replace('_', ' ')}
    </span>
  );
}

const sourceLabel: Record<string, string> = {
  hypopg: 'planner (hypopg)',
  model: 'cost model',
  measured: 'measured in the sandbox',
};

const sourceTitle: Record<string, string> = {
  hypopg: 'The planner costed the statements with a hypothetical index (hypopg what-if)',
  model: 'hypopg cannot simulate this index type: a cost model built from the planner’s row estimates and cost settings. Test it in the sandbox.',
  measured: 'The sandbox built the index on a copy and timed the statements with EXPLAIN ANALYZE',
};

/** Estimated (HypoPG or the cost model) vs measured (sandbox) speed-up, and what applying realised. */
export function BenefitFigures({ rec }: { rec: Recommendation }) {
  return (
    <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-xs sm:grid-cols-4">
      <div>
        <dt className="muted">Estimated</dt>
        <dd className="tabular-nums font-medium" title="Planner cost before / after">
          {formatSpeedup(rec.estimated_speedup)}
        </dd>
      </div>
      {rec.kind === 'create_index' && (
        <div className="col-span-2 sm:col-span-4" data-testid="benefit-source">
          <dt className="muted">Benefit from</dt>
          <dd className="font-medium" title={sourceTitle[rec.benefit_source] ?? 'Not costed: a heuristic from the statement’s shape'}>
            {sourceLabel[rec.benefit_source] ?? 'not costed'}
          </dd>
        </div>
      )}
      {rec.prerequisites.length > 0 && (
        <div className="col-span-2 sm:col-span-4" data-testid="prerequisites">
          <dt className="muted">Needs first (run by a person allowed to; apply refuses until then)</dt>
          <dd>
            {rec.prerequisites.map((p) => (
              <code key={p} className="block font-mono">
                {p};
              </code>
            ))}
          </dd>
        </div>
      )}
      <div>
        <dt className="muted">Measured</dt>
        <dd className="tabular-nums font-medium" title="Sandbox EXPLAIN ANALYZE medians">
          {formatSpeedup(rec.measured_speedup)}
        </dd>
      </div>
      <div>
        <dt className="muted">Saves per day</dt>
        <dd className="tabular-nums font-medium">{rec.benefit_ms_per_day > 0 ? formatMs(rec.benefit_ms_per_day) : '–'}</dd>
      </div>
      <div>
        <dt className="muted">{rec.size_bytes < 0 ? 'Frees' : 'Size'}</dt>
        <dd className="tabular-nums font-medium">{rec.size_bytes !== 0 ? formatBytes(Math.abs(rec.size_bytes)) : '–'}</dd>
      </div>
      {rec.realised && (
        <div className="col-span-2 sm:col-span-4" data-testid="realised">
          <dt className="muted">Realised after applying</dt>
          <dd className="flex flex-wrap items-center gap-2 tabular-nums">
            <Verdict v={rec.realised.verdict} />
            mean {formatMs(rec.realised.mean_before_ms)} → {formatMs(rec.realised.mean_after_ms)} ({formatSpeedup(rec.realised.speedup)}, {rec.realised.polls_after} polls)
          </dd>
        </div>
      )}
    </dl>
  );
}
