'use client';
import { useState } from 'react';
import useSWR from 'swr';
import { api } from '@/lib/api';
import type { AdviceReport } from '@/lib/schemas';
import { useStatus } from '@/lib/hooks/useStatus';
import { useTarget } from '@/lib/target';
import { formatMs } from '@/lib/format';
import { FindingNote, PlanTree } from '@/ui/plan/plan-tree';
import { RecommendationCard } from '@/ui/recommendations/recommendation-card';
import { RecommendationModal } from '@/ui/recommendations/recommendation-modal';

export default function AnalysePage() {
  const { target: selected } = useTarget();
  const { data: targets } = useSWR('targets', api.targets);
  const { data: status } = useStatus();
  const [sql, setSql] = useState('');
  const [target, setTarget] = useState<string>('');
  const [llm, setLlm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<AdviceReport | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const effective = target || selected || targets?.targets[0];

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      setReport(await api.analyseQuery(sql, effective, llm));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const stmt = report?.statements[0];
  const openRec = report?.actions.find((r) => r.id === open);
  return (
    <div className="space-y-3">
      <h1 className="text-base font-semibold">Analyse a query</h1>
      <form
        className="panel space-y-2 p-3"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label className="block text-xs font-medium" htmlFor="sql">
          One SELECT, INSERT, UPDATE or DELETE ($n parameters allowed). It is never executed: EXPLAIN only, read-only.
        </label>
        <textarea
          id="sql"
          className="input sql min-h-[8rem] w-full"
          spellCheck={false}
          value={sql}
          onChange={(e) => setSql(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void submit();
          }}
          placeholder="SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20"
          data-testid="analyse-sql"
        />
        <div className="flex flex-wrap items-center gap-3">
          <select className="input py-1 text-xs" aria-label="Target" value={effective ?? ''} onChange={(e) => setTarget(e.target.value)}>
            {(targets?.targets ?? []).map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
          <label className="flex items-center gap-1 text-xs">
            <input type="checkbox" checked={llm} onChange={(e) => setLlm(e.target.checked)} disabled={status?.llm?.state === 'disabled'} />
            Ask the LLM too {status?.llm?.state === 'disabled' ? '(disabled on this engine)' : ''}
          </label>
          <button type="submit" className="btn-primary ml-auto" disabled={busy || !sql.trim()} data-testid="analyse-submit">
            {busy ? 'Analysing…' : 'Analyse'} <span className="hidden text-[10px] opacity-70 sm:inline">Ctrl+Enter</span>
          </button>
        </div>
      </form>
      {error && <p className="text-red-600" role="alert">{error}</p>}
      {report && (
        <div className="space-y-3" data-testid="analysis-report">
          <p className="muted text-xs">
            Analysed in {formatMs(report.elapsed_ms)}. {report.actions.length} action(s), {report.findings.length} finding(s).
          </p>
          {report.warnings.map((w, i) => (
            <p key={i} className="text-xs text-amber-700 dark:text-amber-400">
              {w}
            </p>
          ))}
          {report.actions.length > 0 && (
            <div className="grid gap-3 md:grid-cols-2">
              {report.actions.map((r) => (
                <RecommendationCard key={r.id} rec={r} onOpen={() => setOpen(r.id)} />
              ))}
            </div>
          )}
          <div className="grid gap-3 lg:grid-cols-2">
            {stmt?.plan_before && (
              <section className="panel min-w-0 p-3">
                <h2 className="panel-title mb-2">Plan now (cost {Math.round(stmt.plan_before.total_cost)})</h2>
                <PlanTree root={stmt.plan_before.root} findings={report.findings.filter((f) => !f.fingerprint || f.fingerprint === stmt.fingerprint)} />
              </section>
            )}
            {stmt?.plan_after && (
              <section className="panel min-w-0 p-3">
                <h2 className="panel-title mb-2">With the advised indexes (cost {Math.round(stmt.plan_after.total_cost)})</h2>
                <PlanTree root={stmt.plan_after.root} label="Plan with advised indexes" />
              </section>
            )}
          </div>
          {!stmt?.plan_before && report.findings.map((f, i) => <FindingNote key={i} f={f} />)}
          {report.skipped.map((s, i) => (
            <p key={i} className="muted text-xs">
              Skipped: {String(s.reason ?? '')}
            </p>
          ))}
        </div>
      )}
      {openRec && <RecommendationModal rec={openRec} open onOpenChange={(o) => !o && setOpen(null)} applyEnabled={!!status?.apply?.enabled} />}
    </div>
  );
}
