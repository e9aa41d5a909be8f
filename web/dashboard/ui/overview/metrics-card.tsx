// One headline figure. The polled timestamp rides along as a data attribute
// so the end-to-end test can measure poll → screen latency.
export function MetricsCard({
  label,
  value,
  hint,
  tone = 'default',
  polled,
}: {
  label: string;
  value: string;
  hint?: string;
  tone?: 'default' | 'warn' | 'bad';
  polled?: number;
}) {
  const color =
    tone === 'bad' ? 'text-red-600 dark:text-red-400' : tone === 'warn' ? 'text-amber-600 dark:text-amber-400' : '';
  return (
    <div className="panel min-w-0 px-3 py-2.5" data-testid="metrics-card" data-polled={polled}>
      <div className="muted truncate text-xs">{label}</div>
      <div className={`mt-0.5 truncate text-xl font-semibold tabular-nums ${color}`} data-testid="metrics-value">
        {value}
      </div>
      {hint && <div className="muted truncate text-[11px]">{hint}</div>}
    </div>
  );
}

export function MetricsCardSkeleton() {
  return (
    <div className="panel h-[70px] animate-pulse px-3 py-2.5" aria-hidden>
      <div className="h-3 w-20 rounded bg-zinc-200 dark:bg-zinc-800" />
      <div className="mt-2 h-5 w-16 rounded bg-zinc-200 dark:bg-zinc-800" />
    </div>
  );
}
