/** Confidence 0..1 as a five-segment meter with its number, readable without colour. */
export function ConfidenceIndicator({ value }: { value: number }) {
  const v = Math.max(0, Math.min(1, value));
  const filled = Math.round(v * 5);
  const tone = v >= 0.75 ? 'bg-emerald-500' : v >= 0.5 ? 'bg-amber-500' : 'bg-red-500';
  const label = v >= 0.75 ? 'high' : v >= 0.5 ? 'medium' : 'low';
  return (
    <span
      className="inline-flex items-center gap-1.5"
      role="meter"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(v * 100)}
      aria-label={`Confidence ${Math.round(v * 100)} % (${label})`}
      title={`Confidence ${Math.round(v * 100)} %`}
    >
      <span className="flex gap-0.5" aria-hidden>
        {Array.from({ length: 5 }, (_, i) => (
          <span key={i} className={`h-2.5 w-1.5 rounded-sm ${i < filled ? tone : 'bg-zinc-200 dark:bg-zinc-700'}`} />
        ))}
      </span>
      <span className="text-xs tabular-nums">{Math.round(v * 100)}%</span>
    </span>
  );
}
