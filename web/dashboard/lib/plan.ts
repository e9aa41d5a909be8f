// Two plan shapes reach the UI: the engine's tree (/api/analysis/plan,
// snake_case, with node ids that findings point at) and raw EXPLAIN (ANALYZE,
// FORMAT JSON) from the sandbox. Both are turned into PlanNode.
import type { Finding, PlanNode } from './schemas';

type Raw = Record<string, unknown>;
const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
const str = (x: unknown) => (typeof x === 'string' ? x : undefined);

/** Converts raw EXPLAIN JSON (array with {Plan}, {Plan}, or a plan node) to PlanNode. */
export function fromExplain(raw: unknown): PlanNode | null {
  let node: unknown = raw;
  if (Array.isArray(node)) node = node[0];
  if (node && typeof node === 'object' && 'Plan' in node) node = (node as Raw).Plan;
  if (!node || typeof node !== 'object') return null;
  let next = 0;
  const walk = (n: Raw): PlanNode => ({
    id: next++,
    node_type: str(n['Node Type']) ?? '?',
    relation: str(n['Relation Name']),
    alias: str(n['Alias']),
    index_name: str(n['Index Name']),
    parent_relationship: str(n['Parent Relationship']),
    startup_cost: num(n['Startup Cost']),
    total_cost: num(n['Total Cost']),
    plan_rows: num(n['Plan Rows']),
    plan_width: num(n['Plan Width']),
    actual_rows: num(n['Actual Rows']),
    actual_loops: num(n['Actual Loops']),
    actual_total_time_ms: num(n['Actual Total Time']),
    rows_removed_by_filter: num(n['Rows Removed by Filter']),
    filter: str(n['Filter']),
    index_cond: str(n['Index Cond']),
    hash_cond: str(n['Hash Cond']),
    join_type: str(n['Join Type']),
    sort_key: Array.isArray(n['Sort Key']) ? (n['Sort Key'] as unknown[]).filter((x): x is string => typeof x === 'string') : undefined,
    children: Array.isArray(n['Plans']) ? (n['Plans'] as Raw[]).map(walk) : [],
  });
  return walk(node as Raw);
}

/** Findings grouped by the plan node they are attached to (-1: the statement). */
export function findingsByNode(findings: Finding[]): Map<number, Finding[]> {
  const m = new Map<number, Finding[]>();
  for (const f of findings) {
    const k = typeof f.node_id === 'number' ? f.node_id : -1;
    m.set(k, [...(m.get(k) ?? []), f]);
  }
  return m;
}

/** A node's own cost (total minus its children's), for pev2-style cost bars. */
export function exclusiveCost(n: PlanNode): number {
  const kids = n.children.reduce((s, c) => s + (c.total_cost ?? 0), 0);
  return Math.max(0, (n.total_cost ?? 0) - kids);
}
