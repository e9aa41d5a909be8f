'use client';
import Link from 'next/link';
import { formatNumber, targetSummary } from '@/lib/format';
import type { Status } from '@/lib/schemas';

export function StateBadge({ state }: { state: string }) {
  const tone =
    state === 'ok' || state === 'connected' || state === 'running'
      ? 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300'
      : state === 'disabled' || state === 'off'
        ? 'bg-zinc-200 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300'
        : state === 'degraded' || state === 'connecting'
          ? 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-300'
          : 'bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-300';
  return <span className={`badge ${tone}`}>{state}</span>;
}

function Row({ name, state, detail }: { name: string; state: string; detail?: string }) {
  return (
    <li className="flex items-center justify-between gap-3 py-1.5">
      <span className="min-w-0">
        <span className="font-medium">{name}</span>
        {detail && <span className="muted block truncate text-xs">{detail}</span>}
      </span>
      <StateBadge state={state} />
    </li>
  );
}

/** Targets, last poll and each component's state at a glance. */
export function SystemStatus({ status }: { status: Status | undefined }) {
  if (!status) return <div className="panel h-48 animate-pulse" aria-hidden />;
  const llm = status.llm;
  const b = llm?.budget;
  const sandbox = status.sandbox?.[0];
  return (
    <section className="panel p-3" aria-labelledby="system-status" data-testid="system-status">
      <div className="flex items-center justify-between">
        <h2 id="system-status" className="panel-title">
          System status
        </h2>
        <Link href="/settings/" className="text-xs text-sky-700 hover:underline dark:text-sky-400">
          details
        </Link>
      </div>
      <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
        {status.targets.map((t) => (
          <Row
            key={t.name}
            name={t.name}
            state={t.state}
            detail={targetSummary(t)}
          />
        ))}
        <Row name="Collector" state={status.targets.every((t) => t.state === 'ok' || (t.standby && t.owner)) ? 'ok' : 'degraded'} detail={`${status.targets.length} target(s)`} />
        <Row name="NATS" state={status.nats.connection ?? status.nats.state} detail={status.nats.url} />
        <Row
          name="LLM"
          state={llm?.state ?? 'unknown'}
          detail={
            b
              ? `budget ${formatNumber(b.tokens, 0)} / ${formatNumber(b.tokens_limit, 0)} tokens · $${formatNumber(b.usd, 2)} / $${formatNumber(b.usd_limit, 2)}`
              : llm?.message
          }
        />
        <Row
          name="Sandbox"
          state={sandbox?.state ?? 'disabled'}
          detail={sandbox ? `${sandbox.tests ?? 0} tests${sandbox.last_verdict ? ` · last: ${sandbox.last_verdict}` : ''}` : 'no --sandbox-dsn'}
        />
        {status.web && (
          <Row name="Web" state={status.web.state} detail={status.web.warnings?.[0] ?? (status.web.token ? 'API token required for changes' : 'no API token: loopback only')} />
        )}
        <Row name="Apply" state={status.apply?.enabled ? 'ok' : 'disabled'} detail={status.apply?.message ?? (status.apply?.enabled ? 'bearer token required' : undefined)} />
      </ul>
    </section>
  );
}
