'use client';
// Apply (or roll back) with explicit loading, success and error states: the
// DDL runs CONCURRENTLY and can take a while, so the button says so.
import type { Action } from '@/lib/hooks/useRecommendationAction';
import type { Recommendation } from '@/lib/schemas';

export function ApplyButton({
  rec,
  pending,
  onRun,
  disabledReason,
}: {
  rec: Recommendation;
  pending: Action | null;
  onRun: (a: Action) => void;
  disabledReason?: string;
}) {
  const applied = rec.status === 'applied';
  const action: Action = applied ? 'rollback' : 'apply';
  const busy = pending === action;
  const noDdl = !(applied ? rec.rollback_ddl : rec.ddl);
  const disabled = busy || pending !== null || noDdl || !!disabledReason;
  return (
    <button
      type="button"
      data-testid={applied ? 'rollback-button' : 'apply-button'}
      className={applied ? 'btn-danger' : 'btn-primary'}
      disabled={disabled}
      aria-busy={busy}
      title={disabledReason ?? (noDdl ? 'This recommendation has no DDL to run' : undefined)}
      onClick={() => onRun(action)}
    >
      {busy && <span className="h-3 w-3 animate-spin rounded-full border-2 border-white/40 border-t-white" aria-hidden />}
      {busy ? (applied ? 'Rolling back…' : 'Applying…') : applied ? 'Roll back' : 'Apply'}
    </button>
  );
}
