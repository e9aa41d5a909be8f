'use client';
import { useEffect, useState } from 'react';
import useSWR from 'swr';
import { api } from '@/lib/api';
import { formatAgo, formatBytes, formatCount, formatMs, formatNumber } from '@/lib/format';
import { useStatus } from '@/lib/hooks/useStatus';
import { getToken, setToken } from '@/lib/token';
import { SystemStatus, StateBadge } from '@/ui/overview/system-status';
import { useToast } from '@/ui/toast';

function TokenForm() {
  const [value, setValue] = useState('');
  const toast = useToast();
  useEffect(() => setValue(getToken()), []);
  return (
    <form
      className="panel space-y-2 p-3"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
        toast({ kind: 'success', title: value.trim() ? 'Token saved' : 'Token removed', body: 'Kept in this browser only (localStorage).' });
      }}
    >
      <h2 className="panel-title">API token</h2>
      <p className="muted text-xs">
        With a token set, the engine wants it for every change (apply, rollback, sandbox tests, dismiss, analyses) and for live updates. It stays in this browser.
      </p>
      <div className="flex flex-wrap gap-2">
        <input type="password" className="input min-w-0 flex-1 font-mono" aria-label="API token" value={value} onChange={(e) => setValue(e.target.value)} data-testid="token-input" />
        <button type="submit" className="btn-primary" data-testid="token-save">
          Save
        </button>
      </div>
    </form>
  );
}

export default function SettingsPage() {
  const { data: status, error } = useStatus();
  const audit = useSWR('audit', () => api.audit(30), { refreshInterval: 10_000 });
  return (
    <div className="space-y-3">
      <h1 className="text-base font-semibold">Status &amp; settings</h1>
      {error && <p className="text-red-600">{error.message}</p>}
      <div className="grid gap-3 lg:grid-cols-3">
        <div className="space-y-3">
          <TokenForm />
          <SystemStatus status={status} />
        </div>
        <section className="panel min-w-0 overflow-x-auto p-3 lg:col-span-2">
          <h2 className="panel-title mb-2">Targets</h2>
          <table className="w-full text-xs">
            <thead>
              <tr>
                <th className="th">Target</th>
                <th className="th">State</th>
                <th className="th">Server</th>
                <th className="th num">Statements</th>
                <th className="th num">Polls</th>
                <th className="th num">Last poll</th>
              </tr>
            </thead>
            <tbody>
              {status?.targets.map((t) => (
                <tr key={t.name} className="border-t border-zinc-100 dark:border-zinc-800">
                  <td className="td">
                    <div className="font-medium">{t.name}</div>
                    <div className="muted sql">{t.dsn}</div>
                    {t.error && <div className="text-red-600">{t.error.message}</div>}
                    {[...(t.warnings ?? []), ...(t.advice ?? [])].map((w, i) => (
                      <div key={i} className="text-amber-700 dark:text-amber-400">
                        {w}
                      </div>
                    ))}
                  </td>
                  <td className="td"><StateBadge state={t.state} /></td>
                  <td className="td">{t.server_version}</td>
                  <td className="td num">{formatCount(t.statements)}</td>
                  <td className="td num">{formatCount(t.polls)}</td>
                  <td className="td num">
                    {formatAgo(t.last_poll)}
                    <div className="muted">{formatMs(t.last_poll_duration_ms)}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {status && (
            <dl className="mt-3 grid grid-cols-2 gap-2 text-xs sm:grid-cols-4">
              <div><dt className="muted">Version</dt><dd>{status.version}</dd></div>
              <div><dt className="muted">Uptime</dt><dd>{formatMs(status.uptime_ms)}</dd></div>
              <div><dt className="muted">Store</dt><dd>{formatBytes(status.store.size_bytes)} · {formatCount(status.store.raw_points)} points</dd></div>
              <div><dt className="muted">WebSocket clients</dt><dd>{formatCount(status.web?.ws_clients)}</dd></div>
              {status.llm && (
                <div className="col-span-2">
                  <dt className="muted">LLM ({status.llm.model})</dt>
                  <dd>
                    {status.llm.message ?? `${formatCount(status.llm.calls)} calls · ${formatMs(status.llm.mean_latency_ms)} mean`}
                    {status.llm.budget && ` · today ${formatNumber(status.llm.budget.tokens, 0)}/${formatNumber(status.llm.budget.tokens_limit, 0)} tokens, $${formatNumber(status.llm.budget.usd, 2)}/$${formatNumber(status.llm.budget.usd_limit, 2)}`}
                  </dd>
                </div>
              )}
            </dl>
          )}
          {status?.components && (
            <>
              <h2 className="panel-title mb-1 mt-4">Components</h2>
              <ul className="grid grid-cols-2 gap-1 text-xs sm:grid-cols-3">
                {status.components.map((c) => (
                  <li key={c.name} className="flex items-center gap-1.5" title={c.last_failure}>
                    <span className={`h-2 w-2 rounded-full ${c.running ? 'bg-emerald-500' : 'bg-red-500'}`} aria-hidden />
                    {c.name}
                    {c.restarts > 0 && <span className="muted">({c.restarts} restarts)</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      </div>
      <section className="panel min-w-0 overflow-x-auto p-3">
        <h2 className="panel-title mb-2">Audit log</h2>
        {audit.data?.source === 'fleet' && <p className="muted mb-2 text-xs">Every engine of the fleet: its changes to every target.</p>}
        {audit.data?.fleet_error && (
          <p role="alert" className="mb-2 text-xs text-amber-700 dark:text-amber-400">
            The fleet&apos;s audit log cannot be read ({audit.data.fleet_error}); this engine&apos;s own changes are shown.
          </p>
        )}
        <table className="w-full text-xs">
          <thead>
            <tr>
              <th className="th">When</th>
              <th className="th">Target</th>
              <th className="th">Who</th>
              <th className="th">Action</th>
              <th className="th">Outcome</th>
              <th className="th">DDL</th>
              <th className="th num">Duration</th>
            </tr>
          </thead>
          <tbody>
            {audit.data?.entries.map((e, i) => (
              <tr key={i} className="border-t border-zinc-100 dark:border-zinc-800">
                <td className="td whitespace-nowrap">{new Date(e.ts).toLocaleString()}</td>
                <td className="td">{e.target}</td>
                <td className="td">{e.who}</td>
                <td className="td">{e.action}</td>
                <td className="td">
                  {e.outcome}
                  {e.error && <div className="text-red-600">{e.error}</div>}
                </td>
                <td className="td sql max-w-md break-words">{e.ddl}</td>
                <td className="td num">{formatMs(e.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {audit.data?.entries.length === 0 && <p className="muted">No actions yet.</p>}
      </section>
    </div>
  );
}
