'use client';
// Everything a DBA needs to decide on one recommendation: why (LLM narrative
// when present, clearly marked), evidence, the exact DDL and its rollback,
// the sandbox's before/after plans, and the actions.
import { useState } from 'react';
import useSWR from 'swr';
import Link from 'next/link';
import { api } from '@/lib/api';
import { formatAgo, formatMs, oneLine } from '@/lib/format';
import { useRecommendationAction, type Action } from '@/lib/hooks/useRecommendationAction';
import { fromExplain } from '@/lib/plan';
import type { Recommendation, SandboxRun } from '@/lib/schemas';
import { Modal } from '../dialog';
import { PlanTree } from '../plan/plan-tree';
import { SqlBlock } from '../sql-block';
import { TokenDialog } from '../token-dialog';
import { ApplyButton } from './apply-button';
import { BenefitFigures, StatusBadge, Verdict, kindLabel } from './benefit';
import { ConfidenceIndicator } from './confidence-indicator';

function SandboxPlans({ run }: { run: SandboxRun }) {
  const before = fromExplain(run.plan_before);
  const after = fromExplain(run.plan_after);
  return (
    <div className="space-y-1">
      <div className="sql truncate" title={run.query}>
        {oneLine(run.query)}
      </div>
      <div className="text-xs tabular-nums">
        median {formatMs(run.median_before_ms)} → <b>{formatMs(run.median_after_ms)}</b>
        {run.uses_index === false ? ' · the plan does not use the index' : ''}
        {run.error ? <span className="text-red-600"> · {run.error}</span> : null}
      </div>
      <div className="grid gap-2 lg:grid-cols-2">
        {before && (
          <div>
            <div className="muted mb-1 text-xs font-medium">Before</div>
            <PlanTree root={before} label="Plan before" />
          </div>
        )}
        {after && (
          <div>
            <div className="muted mb-1 text-xs font-medium">After</div>
            <PlanTree root={after} label="Plan after" />
          </div>
        )}
      </div>
    </div>
  );
}

export function RecommendationModal({
  rec: initial,
  open,
  onOpenChange,
  applyEnabled,
}: {
  rec: Recommendation;
  open: boolean;
  onOpenChange: (o: boolean) => void;
  applyEnabled: boolean;
}) {
  // The list's copy is shown at once; the by-id fetch brings the newest state.
  const { data } = useSWR(open ? ['suggestion', initial.id] : null, () => api.suggestion(initial.id, initial.target), { fallbackData: initial });
  const rec = data ?? initial;
  const [tokenAsk, setTokenAsk] = useState<{ retry: () => void; reason: string } | null>(null);
  const { run, pending } = useRecommendationAction((retry, reason) => setTokenAsk({ retry, reason }));
  const act = (a: Action) => void run(a, rec);
  const isIndex = rec.kind === 'create_index' || rec.kind === 'drop_index';

  return (
    <Modal open={open} onOpenChange={onOpenChange} wide title={rec.title} description={`${kindLabel[rec.kind] ?? rec.kind} · ${rec.target} · updated ${formatAgo(rec.updated)}`}>
      <div className="space-y-4" data-testid="recommendation-modal">
        <div className="flex flex-wrap items-center gap-2">
          <StatusBadge status={rec.status} />
          {rec.sandbox && <Verdict v={rec.sandbox.verdict} prefix="sandbox" />}
          <ConfidenceIndicator value={rec.confidence} />
        </div>
        <BenefitFigures rec={rec} />

        <section>
          <h3 className="panel-title mb-1">Why</h3>
          {rec.narrative && (
            <div className="mb-2 rounded-md border border-violet-300 bg-violet-50 p-2 text-sm dark:border-violet-800 dark:bg-violet-950/40" data-testid="llm-narrative">
              <span className="badge mr-1 bg-violet-600 text-white" title={`Written by ${rec.narrative_source || 'an LLM'}; check it against the evidence`}>
                LLM
              </span>
              {rec.narrative}
            </div>
          )}
          <ul className="list-disc space-y-0.5 pl-5">
            {rec.reasons.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ul>
          {rec.evidence.length > 0 && (
            <>
              <h4 className="muted mt-2 text-xs font-semibold uppercase">Evidence</h4>
              <ul className="list-disc space-y-0.5 pl-5 text-xs">
                {rec.evidence.map((r, i) => (
                  <li key={i}>{r}</li>
                ))}
              </ul>
            </>
          )}
        </section>

        {rec.statements.length > 0 && (
          <section>
            <h3 className="panel-title mb-1">Statements it serves</h3>
            <ul className="space-y-1">
              {rec.statements.map((s) => (
                <li key={s.fingerprint} className="flex items-baseline gap-2">
                  <Link className="sql min-w-0 flex-1 truncate text-sky-700 hover:underline dark:text-sky-400" href={`/queries/query/?fp=${s.fingerprint}&target=${rec.target}`}>
                    {oneLine(s.query)}
                  </Link>
                  <span className="muted whitespace-nowrap text-xs tabular-nums">
                    cost {Math.round(s.cost_before)} → {Math.round(s.cost_after)}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        )}

        {rec.rewrite_sql && (
          <section>
            <h3 className="panel-title mb-1">
              Suggested rewrite <span className="badge bg-violet-600 text-white">LLM</span>{' '}
              <span className={`badge ${rec.verified ? 'bg-emerald-600 text-white' : 'bg-zinc-300 dark:bg-zinc-700'}`}>{rec.verified ? 'verified' : 'unverified'}</span>
            </h3>
            <SqlBlock sql={rec.rewrite_sql} />
            {rec.verification && <p className="muted mt-1 text-xs">{rec.verification}</p>}
          </section>
        )}

        {(rec.ddl || rec.rollback_ddl) && (
          <section className="grid gap-2 md:grid-cols-2">
            {rec.ddl && <SqlBlock sql={rec.ddl} label="DDL" testId="ddl" />}
            {rec.rollback_ddl && <SqlBlock sql={rec.rollback_ddl} label="Rollback DDL" testId="rollback-ddl" />}
          </section>
        )}

        {rec.sandbox && (
          <section data-testid="sandbox-result" data-verdict={rec.sandbox.verdict}>
            <h3 className="panel-title mb-1">Sandbox result</h3>
            {rec.sandbox.summary && <p className="mb-2 text-sm">{rec.sandbox.summary}</p>}
            <div className="space-y-3">
              {(rec.sandbox.served ?? []).slice(0, 2).map((r, i) => (
                <SandboxPlans key={i} run={r} />
              ))}
            </div>
          </section>
        )}

        {rec.last_error && <p className="text-sm text-red-600 dark:text-red-400">Last error: {rec.last_error}</p>}

        <div className="sticky bottom-0 -mx-4 -mb-4 flex flex-wrap items-center justify-end gap-2 border-t border-zinc-200 bg-white px-4 py-3 dark:border-zinc-800 dark:bg-zinc-900 sm:-mx-5 sm:-mb-5">
          {!applyEnabled && isIndex && <span className="muted mr-auto text-xs">Applying is off on this engine (start it with --api-token).</span>}
          {isIndex && rec.status !== 'applied' && (
            <button type="button" className="btn-ghost" disabled={pending !== null} onClick={() => act('test')} aria-busy={pending === 'test'} data-testid="test-button">
              {pending === 'test' ? 'Testing…' : 'Test in sandbox'}
            </button>
          )}
          {rec.status !== 'applied' && rec.status !== 'dismissed' && (
            <button type="button" className="btn-ghost" disabled={pending !== null} onClick={() => act('dismiss')} data-testid="dismiss-button">
              {pending === 'dismiss' ? 'Dismissing…' : 'Dismiss'}
            </button>
          )}
          {isIndex && <ApplyButton rec={rec} pending={pending} onRun={act} disabledReason={applyEnabled ? undefined : 'Applying is off on this engine'} />}
        </div>
      </div>
      {tokenAsk && (
        <TokenDialog open onOpenChange={(o) => !o && setTokenAsk(null)} reason={tokenAsk.reason} onSaved={tokenAsk.retry} />
      )}
    </Modal>
  );
}
