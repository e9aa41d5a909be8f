// Number formatting for a DBA's eye: durations pick their unit (µs, ms, s,
// min, h), counts get thousands separators, ratios become percentages.
// Every function returns "–" for missing or non-finite input rather than
// printing NaN.

const DASH = '–';
const nf = (digits: number) =>
  new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

function ok(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A duration given in milliseconds: 0.042 → "42 µs", 1530 → "1.53 s". */
export function formatMs(ms: number | null | undefined): string {
  if (!ok(ms)) return DASH;
  const a = Math.abs(ms);
  if (a === 0) return '0 ms';
  if (a < 1) return `${nf(a < 0.01 ? 2 : 0).format(ms * 1000)} µs`;
  if (a < 10) return `${nf(2).format(ms)} ms`;
  if (a < 1000) return `${nf(1).format(ms)} ms`;
  if (a < 60_000) return `${nf(2).format(ms / 1000)} s`;
  if (a < 3_600_000) return `${nf(1).format(ms / 60_000)} min`;
  return `${nf(1).format(ms / 3_600_000)} h`;
}

/** An integer count with thousands separators: 1234567 → "1,234,567". */
export function formatCount(x: number | null | undefined): string {
  if (!ok(x)) return DASH;
  return nf(0).format(x);
}

/** A number with up to `digits` decimals and separators. */
export function formatNumber(x: number | null | undefined, digits = 1): string {
  if (!ok(x)) return DASH;
  return nf(digits).format(x);
}

/** A compact count: 12_300 → "12.3k". Used where space is tight (cards). */
export function formatCompact(x: number | null | undefined): string {
  if (!ok(x)) return DASH;
  return new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(x);
}

/** A ratio 0..1 as a percentage: 0.99993 → "99.99 %". */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (!ok(ratio)) return DASH;
  const pct = ratio * 100;
  // Cache hit ratios live near 100 %: show enough decimals to see a drop.
  const d = pct > 99 && pct < 100 ? Math.max(digits, 2) : digits;
  return `${nf(d).format(pct)} %`;
}

/** Bytes in binary units: 26441098 → "25.2 MiB". Negative sizes are freed space. */
export function formatBytes(bytes: number | null | undefined): string {
  if (!ok(bytes)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${bytes < 0 ? '−' : ''}${nf(v < 10 && i > 0 ? 1 : 0).format(v)} ${units[i]}`;
}

/** A speed-up factor: 358.17 → "358×", 1.42 → "1.42×"; 0 means unknown. */
export function formatSpeedup(x: number | null | undefined): string {
  if (!ok(x) || x <= 0) return DASH;
  return `${nf(x >= 100 ? 0 : x >= 10 ? 1 : 2).format(x)}×`;
}

/** Time since an epoch-ms instant, relative to `now`: "4 s ago", "3 h ago". */
/** One line on a target's collection: its error, the engine of a fleet that
 * polls it instead of this one, or its last poll. */
export function targetSummary(
  t: {
    error?: { message: string } | null;
    standby?: boolean;
    owner?: string;
    last_poll?: number;
    statements?: number;
    last_poll_duration_ms?: number;
  },
  now: number = Date.now(),
): string {
  if (t.error?.message) return t.error.message;
  if (t.standby) return t.owner ? `polled by engine ${t.owner}` : 'waiting for the fleet to pick an engine';
  const by = t.owner ? ` by this engine (${t.owner})` : '';
  return `polled ${formatAgo(t.last_poll, now)}${by} · ${formatNumber(t.statements ?? 0, 0)} statements · ${formatMs(t.last_poll_duration_ms)}`;
}

export function formatAgo(ts: number | null | undefined, now: number = Date.now()): string {
  if (!ok(ts) || ts <= 0) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A clock time for chart axes: "14:05" (or "14:05:30" with seconds). */
export function formatClock(ts: number, seconds = false): string {
  const d = new Date(ts);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ''}`;
}

/** Collapses whitespace so a multi-line statement fits one table row. */
export function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}
