'use client';
import { useMetrics } from '@/lib/hooks/useMetrics';
import { formatCount, formatMs, formatNumber, formatPercent } from '@/lib/format';
import type { TargetSummary } from '@/lib/schemas';
import { MetricsCard, MetricsCardSkeleton } from './metrics-card';

/** Sums targets so "All databases" reads as one workload. */
function combine(ts: TargetSummary[]) {
  let time = 0,
    callsPerS = 0,
    timePerS = 0,
    calls = 0,
    hit = 0,
    read = 0,
    conns = 0,
    maxConns = 0,
    interval = 0,
    polled = 0;
  for (const t of ts) {
    const i = t.summary.interval;
    time += i.total_time_ms;
    calls += i.calls;
    callsPerS += i.calls_per_s;
    timePerS += i.time_per_s_ms;
    hit += t.database.blks_hit;
    read += t.database.blks_read;
    conns += t.database.connections;
    maxConns += t.database.max_connections;
    interval = Math.max(interval, i.interval_ms);
    polled = Math.max(polled, t.polled);
  }
  return {
    time,
    callsPerS,
    timePerS,
    mean: calls > 0 ? time / calls : 0,
    hitRatio: hit + read > 0 ? hit / (hit + read) : 1,
    conns,
    maxConns,
    interval,
    polled,
  };
}

export function MetricsCards({ target }: { target?: string }) {
  const { data, error } = useMetrics(target);
  if (error && !data) return <p className="text-red-600">Metrics unavailable: {error.message}</p>;
  if (!data)
    return (
      <div className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-5">
        {Array.from({ length: 5 }, (_, i) => (
          <MetricsCardSkeleton key={i} />
        ))}
      </div>
    );
  const c = combine(data.targets);
  const perInterval = c.interval > 0 ? `in the last ${formatNumber(c.interval / 1000, 0)} s` : 'no poll yet';
  return (
    <div className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-5" data-testid="metrics-cards" data-polled={c.polled}>
      <MetricsCard label="Query time per interval" value={formatMs(c.time)} hint={`${formatMs(c.timePerS)}/s ${perInterval}`} polled={c.polled} />
      <MetricsCard label="Calls per second" value={formatNumber(c.callsPerS, 1)} hint={perInterval} polled={c.polled} />
      <MetricsCard label="Mean latency" value={formatMs(c.mean)} hint="execution time per call" polled={c.polled} />
      <MetricsCard
        label="Cache hit ratio"
        value={formatPercent(c.hitRatio)}
        tone={c.hitRatio < 0.9 ? 'bad' : c.hitRatio < 0.99 ? 'warn' : 'default'}
        hint="shared buffers, last interval"
        polled={c.polled}
      />
      <MetricsCard
        label="Connections"
        value={formatCount(c.conns)}
        hint={`of ${formatCount(c.maxConns)} max`}
        tone={c.maxConns > 0 && c.conns / c.maxConns > 0.8 ? 'warn' : 'default'}
        polled={c.polled}
      />
    </div>
  );
}
