// Pure shaping of history points into chart rows, kept out of components so
// it is unit-tested and cheap to memoise.
import type { DatabasePoint, HistoryPoint } from './schemas';

export type SeriesInput = { key: string; points: HistoryPoint[] };

/** Bucket start for `ts` given a bucket width. */
export const bucketOf = (ts: number, width: number) => Math.floor(ts / width) * width;

/** Bucket width that gives about `target` buckets over `rangeMs` (whole minutes). */
export function bucketWidth(rangeMs: number, target = 60): number {
  const minute = 60_000;
  return Math.max(minute, Math.round(rangeMs / target / minute) * minute);
}

export type ShareRow = { ts: number } & Record<string, number>;

/**
 * The share of the database's query time each statement took, per bucket.
 * Statements' and the database's times are summed per bucket first, so a
 * bucket with several polls weighs each poll by its time, not equally.
 */
export function timeShareRows(
  series: SeriesInput[],
  db: DatabasePoint[],
  from: number,
  to: number,
  width: number,
): ShareRow[] {
  const dbTime = new Map<number, number>();
  for (const p of db) dbTime.set(bucketOf(p.ts, width), (dbTime.get(bucketOf(p.ts, width)) ?? 0) + p.total_time_ms);
  const rows: ShareRow[] = [];
  const index = new Map<number, ShareRow>();
  for (let b = bucketOf(from, width); b <= to; b += width) {
    const row = { ts: b } as ShareRow;
    for (const s of series) row[s.key] = 0;
    rows.push(row);
    index.set(b, row);
  }
  for (const s of series)
    for (const p of s.points) {
      const row = index.get(bucketOf(p.ts, width));
      if (row) row[s.key] = (row[s.key] ?? 0) + p.total_time_ms;
    }
  for (const row of rows) {
    const total = dbTime.get(row.ts) ?? 0;
    for (const s of series) row[s.key] = total > 0 ? Math.min(1, (row[s.key] ?? 0) / total) : 0;
  }
  return rows;
}

export type Heatmap = { buckets: number[]; rows: { key: string; cells: number[] }[]; max: number };

/** Query × time matrix of total execution time (ms) per bucket. */
export function heatmap(series: SeriesInput[], from: number, to: number, width: number): Heatmap {
  const buckets: number[] = [];
  for (let b = bucketOf(from, width); b <= to; b += width) buckets.push(b);
  const first = buckets[0] ?? 0;
  let max = 0;
  const rows = series.map((s) => {
    const cells = new Array<number>(buckets.length).fill(0);
    for (const p of s.points) {
      const i = Math.floor((bucketOf(p.ts, width) - first) / width);
      if (i >= 0 && i < cells.length) cells[i] = (cells[i] ?? 0) + p.total_time_ms;
    }
    for (const c of cells) max = Math.max(max, c);
    return { key: s.key, cells };
  });
  return { buckets, rows, max };
}

/** 0..1 intensity on a log scale: query time spans orders of magnitude. */
export function intensity(v: number, max: number): number {
  if (v <= 0 || max <= 0) return 0;
  return Math.max(0.06, Math.log1p(v) / Math.log1p(max));
}
