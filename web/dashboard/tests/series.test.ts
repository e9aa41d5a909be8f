import { describe, expect, it } from 'vitest';
import { bucketWidth, heatmap, intensity, timeShareRows } from '@/lib/series';
import { filterAndSort } from '@/lib/sort';
import { exclusiveCost, findingsByNode, fromExplain } from '@/lib/plan';
import { throttle } from '@/lib/throttle';
import type { DatabasePoint, HistoryPoint, Statement } from '@/lib/schemas';

const counters = { calls: 1, total_time_ms: 0, mean_time_ms: 0, plan_time_ms: 0, rows: 0, shared_blks_hit: 0, shared_blks_read: 0, temp_blks_read: 0, temp_blks_written: 0, cache_hit_ratio: 1 };
const hp = (ts: number, ms: number): HistoryPoint => ({ ...counters, ts, interval_ms: 1000, total_time_ms: ms });
const dp = (ts: number, ms: number): DatabasePoint => ({ ts, interval_ms: 1000, calls: 1, total_time_ms: ms, xact_commit: 0, xact_rollback: 0, blks_hit: 0, blks_read: 0, cache_hit_ratio: 1, max_connections_used: 1 });

describe('series', () => {
  it('sizes buckets in whole minutes', () => {
    expect(bucketWidth(3_600_000, 60)).toBe(60_000);
    expect(bucketWidth(86_400_000, 96)).toBe(900_000);
    expect(bucketWidth(1000, 60)).toBe(60_000);
  });
  it('computes each statement share of the database time per bucket', () => {
    const rows = timeShareRows([{ key: 'a', points: [hp(60_000, 30), hp(90_000, 10)] }], [dp(60_000, 50), dp(90_000, 50)], 60_000, 120_000, 60_000);
    expect(rows[0]).toEqual({ ts: 60_000, a: 0.4 });
    expect(rows[1]).toEqual({ ts: 120_000, a: 0 });
  });
  it('builds a query × time heatmap and a log intensity', () => {
    const m = heatmap([{ key: 'a', points: [hp(0, 5), hp(60_000, 100)] }], 0, 120_000, 60_000);
    expect(m.buckets).toEqual([0, 60_000, 120_000]);
    expect(m.rows[0]?.cells).toEqual([5, 100, 0]);
    expect(m.max).toBe(100);
    expect(intensity(100, 100)).toBe(1);
    expect(intensity(0, 100)).toBe(0);
  });
});

describe('filterAndSort', () => {
  const st = (fingerprint: string, query: string, total: number): Statement => ({
    ...counters,
    total_time_ms: total,
    fingerprint,
    query,
    queryids: [],
    parse_error: false,
    share_of_total_time: 0,
  });
  const rows = [st('aa', 'SELECT 1 FROM orders', 5), st('bb', 'UPDATE users SET x = $1', 50), st('cc', 'select * from ORDERS', 20)];
  it('filters case-insensitively and sorts', () => {
    expect(filterAndSort(rows, 'orders', 'total_time_ms', 'desc').map((s) => s.fingerprint)).toEqual(['cc', 'aa']);
    expect(filterAndSort(rows, '', 'total_time_ms', 'asc').map((s) => s.fingerprint)).toEqual(['aa', 'cc', 'bb']);
    expect(filterAndSort(rows, 'bb', 'query', 'asc').map((s) => s.fingerprint)).toEqual(['bb']);
  });
  it('sorts 5,000 rows quickly', () => {
    const many = Array.from({ length: 5000 }, (_, i) => st(String(i), `SELECT ${i}`, Math.random()));
    const t = performance.now();
    filterAndSort(many, 'select', 'total_time_ms', 'desc');
    expect(performance.now() - t).toBeLessThan(200);
  });
});

describe('plans', () => {
  it('converts raw EXPLAIN JSON and computes own cost', () => {
    const n = fromExplain([{ Plan: { 'Node Type': 'Sort', 'Total Cost': 100, 'Plan Rows': 5, Plans: [{ 'Node Type': 'Seq Scan', 'Relation Name': 'orders', 'Total Cost': 80, Filter: '(a = 1)' }] } }]);
    expect(n?.node_type).toBe('Sort');
    expect(n?.children[0]).toMatchObject({ id: 1, node_type: 'Seq Scan', relation: 'orders', filter: '(a = 1)' });
    expect(n && exclusiveCost(n)).toBe(20);
    expect(fromExplain(null)).toBeNull();
  });
  it('groups findings by node', () => {
    const f = { kind: 'k', severity: 'low', title: 't', evidence: 'e', suggestion: 's' };
    const m = findingsByNode([{ ...f, node_id: 2 }, { ...f, node_id: null }]);
    expect(m.get(2)?.length).toBe(1);
    expect(m.get(-1)?.length).toBe(1);
  });
});

describe('throttle', () => {
  it('runs at once, then once more after the window', async () => {
    let n = 0;
    const f = throttle(() => n++, 30);
    f();
    f();
    f();
    expect(n).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(n).toBe(2);
  });
});
