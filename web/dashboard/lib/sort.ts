import type { Statement } from './schemas';

export type SortKey = 'total_time_ms' | 'calls' | 'mean_time_ms' | 'rows' | 'cache_hit_ratio' | 'share_of_total_time' | 'interval_time' | 'query';
export type SortDir = 'asc' | 'desc';

function value(s: Statement, k: SortKey): number | string {
  if (k === 'query') return s.query;
  if (k === 'interval_time') return s.interval?.total_time_ms ?? 0;
  return s[k];
}

/** Filters by a case-insensitive substring of the query, fingerprint or target, then sorts. */
export function filterAndSort(rows: Statement[], filter: string, key: SortKey, dir: SortDir): Statement[] {
  const f = filter.trim().toLowerCase();
  const out = f
    ? rows.filter((s) => s.query.toLowerCase().includes(f) || s.fingerprint.startsWith(f) || (s.target ?? '').toLowerCase() === f)
    : rows.slice();
  const sign = dir === 'asc' ? 1 : -1;
  out.sort((a, b) => {
    const x = value(a, key);
    const y = value(b, key);
    if (typeof x === 'string' || typeof y === 'string') return sign * String(x).localeCompare(String(y));
    return sign * (x - y);
  });
  return out;
}
