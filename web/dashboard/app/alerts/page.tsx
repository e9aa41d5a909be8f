'use client';
// Alerts: what fires now (with its evidence, the statement and its plans
// before and now), acknowledge and silence; the silences in place; what
// resolved lately. Live: every `alert` event lists them again.
import Link from 'next/link';
import { useState } from 'react';
import { api, ApiError } from '@/lib/api';
import { formatAgo, formatNumber } from '@/lib/format';
import { useAlerts } from '@/lib/hooks/useAlerts';
import type { Alert, Silence } from '@/lib/schemas';
import { useTarget } from '@/lib/target';
import { SqlBlock } from '@/ui/sql-block';
import { TokenDialog } from '@/ui/token-dialog';
import { useToast } from '@/ui/toast';

const severityStyle: Record<Alert['severity'], string> = {
  critical: 'bg-red-600 text-white',
  warning: 'bg-amber-500 text-zinc-950',
  info: 'bg-sky-600 text-white',
};

function Evidence({ evidence }: { evidence: Record<string, number> }) {
  const entries = Object.entries(evidence);
  if (entries.length === 0) return null;
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-3 text-xs">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="muted">{k.replaceAll('_', ' ')}</dt>
          <dd className="tabular-nums">{formatNumber(v, Math.abs(v) < 10 ? 2 : 0)}</dd>
        </div>
      ))}
    </dl>
  );
}

type Ask = { retry: () => void; reason: string } | null;

function AlertCard({ a, onAct, resolved }: { a: Alert; onAct?: (what: 'ack' | 'silence', a: Alert, hours?: number) => void; resolved?: boolean }) {
  return (
    <article className="panel space-y-2 p-3" data-testid="alert" data-alert-id={a.id}>
      <header className="flex flex-wrap items-center gap-2">
        <span className={`rounded px-1.5 py-0.5 text-[11px] font-semibold uppercase ${severityStyle[a.severity]}`}>{a.severity}</span>
        <span className="font-mono text-xs">{a.rule}</span>
        <span className="muted text-xs">{a.target}</span>
        <span className="muted ml-auto text-xs" title={new Date(a.since).toISOString()}>
          {resolved && a.resolved ? `resolved ${formatAgo(a.resolved)}` : `since ${formatAgo(a.since)}`}
        </span>
      </header>
      <p className="text-sm">{a.summary}</p>
      <p className="muted text-xs">{a.action}</p>
      <Evidence evidence={a.evidence} />
      {a.query && (
        <div className="space-y-1">
          <SqlBlock sql={a.query} />
          {a.fingerprint && (
            <Link className="text-xs text-sky-700 hover:underline dark:text-sky-400" href={`/queries/query/?fp=${a.fingerprint}&target=${a.target}`}>
              Open the query, its history and plan
            </Link>
          )}
        </div>
      )}
      {a.plan_after && (
        <div className="grid gap-2 md:grid-cols-2" data-testid="plan-diff">
          <div>
            <div className="muted text-xs">plan before</div>
            <pre className="overflow-x-auto rounded-md bg-zinc-100 p-2 text-xs dark:bg-zinc-800">{a.plan_before}</pre>
          </div>
          <div>
            <div className="muted text-xs">plan now</div>
            <pre className="overflow-x-auto rounded-md bg-zinc-100 p-2 text-xs dark:bg-zinc-800">{a.plan_after}</pre>
          </div>
        </div>
      )}
      <footer className="flex flex-wrap items-center gap-2 text-xs">
        {a.acknowledged ? (
          <span data-testid="acknowledged">
            acknowledged {formatAgo(a.acknowledged)} by {a.acknowledged_by}
          </span>
        ) : (
          onAct && (
            <button type="button" className="btn-ghost px-2 py-0.5 text-xs" onClick={() => onAct('ack', a)}>
              Acknowledge
            </button>
          )
        )}
        {a.silenced_by ? (
          <span className="rounded bg-zinc-200 px-1.5 py-0.5 dark:bg-zinc-700" data-testid="silenced">
            silenced ({a.silenced_by})
          </span>
        ) : (
          onAct &&
          [1, 8, 24].map((h) => (
            <button key={h} type="button" className="btn-ghost px-2 py-0.5 text-xs" onClick={() => onAct('silence', a, h)}>
              Silence {h} h
            </button>
          ))
        )}
      </footer>
    </article>
  );
}

function SilenceRow({ s, onEnd }: { s: Silence; onEnd: () => void }) {
  const what = [s.rule, s.target, s.fingerprint].filter(Boolean).join(' · ');
  return (
    <li className="flex flex-wrap items-center gap-2 text-sm" data-testid="silence">
      <span className="font-mono text-xs">{what}</span>
      <span className="muted text-xs">until {new Date(s.until).toLocaleString()}</span>
      {s.comment && <span className="text-xs">“{s.comment}”</span>}
      <button type="button" className="btn-ghost ml-auto px-2 py-0.5 text-xs" onClick={onEnd}>
        End
      </button>
    </li>
  );
}

export default function AlertsPage() {
  const { target } = useTarget();
  const { data, error, mutate } = useAlerts(target);
  const toast = useToast();
  const [ask, setAsk] = useState<Ask>(null);

  const act = async (run: () => Promise<unknown>, done: string, retry: () => void) => {
    try {
      await run();
      toast({ kind: 'success', title: done });
      await mutate();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof ApiError && e.needsToken) setAsk({ retry, reason: msg });
      toast({ kind: 'error', title: `${done}: failed`, body: msg });
    }
  };
  const onAct = (what: 'ack' | 'silence', a: Alert, hours = 1) => {
    const again = () => onAct(what, a, hours);
    if (what === 'ack') return void act(() => api.ackAlert(a.id), 'Acknowledged', again);
    void act(
      () => api.silence({ rule: a.rule, target: a.target, fingerprint: a.fingerprint, hours, comment: `from the dashboard: ${a.id}` }),
      `Silenced for ${hours} h`,
      again,
    );
  };
  const end = (s: Silence) => void act(() => api.unsilence(s.id), 'Silence ended', () => end(s));

  const firing = data?.firing ?? [];
  return (
    <div className="space-y-4">
      <div className="flex items-center gap-2">
        <h1 className="mr-auto text-base font-semibold">Alerts</h1>
        <span className="muted text-xs">{firing.length} firing</span>
      </div>
      {error && <p className="text-red-600">{error.message}</p>}
      {!data && !error && <div className="panel h-40 animate-pulse" />}
      {data && firing.length === 0 && <p className="muted" data-testid="no-alerts">Nothing fires. Regressions, plan changes, new heavy statements, storms of calls and targets that go dark show up here.</p>}
      <section className="grid gap-3 xl:grid-cols-2" aria-label="Firing">
        {firing.map((a) => (
          <AlertCard key={a.id} a={a} onAct={onAct} />
        ))}
      </section>
      {data && data.silences.length > 0 && (
        <section className="panel space-y-2 p-3" aria-label="Silences">
          <h2 className="text-sm font-semibold">Silences</h2>
          <ul className="space-y-1">
            {data.silences.map((s) => (
              <SilenceRow key={s.id} s={s} onEnd={() => end(s)} />
            ))}
          </ul>
        </section>
      )}
      {data && data.resolved.length > 0 && (
        <details className="space-y-2">
          <summary className="cursor-pointer text-sm font-semibold">Resolved lately ({data.resolved.length})</summary>
          <div className="grid gap-3 xl:grid-cols-2">
            {data.resolved.slice(0, 50).map((a, i) => (
              <AlertCard key={`${a.id}-${i}`} a={a} resolved />
            ))}
          </div>
        </details>
      )}
      {ask && <TokenDialog open onOpenChange={(o) => !o && setAsk(null)} reason={ask.reason} onSaved={ask.retry} />}
    </div>
  );
}
