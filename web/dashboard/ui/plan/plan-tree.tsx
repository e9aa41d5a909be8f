'use client';
// The plan as a tree, pev2-style: each node shows its type and relation, cost
// and rows, a bar of its own share of the cost, its conditions, and the
// findings the engine attached to it. Nodes collapse with the keyboard too.
import { useState } from 'react';
import { exclusiveCost, findingsByNode } from '@/lib/plan';
import { formatCount, formatMs, formatNumber } from '@/lib/format';
import type { Finding, PlanNode } from '@/lib/schemas';

const sev: Record<string, string> = {
  high: 'border-red-500 bg-red-50 dark:bg-red-950/40',
  medium: 'border-amber-500 bg-amber-50 dark:bg-amber-950/40',
  low: 'border-sky-500 bg-sky-50 dark:bg-sky-950/40',
  info: 'border-zinc-400 bg-zinc-50 dark:bg-zinc-800/60',
};

export function FindingNote({ f }: { f: Finding }) {
  return (
    <div className={`mt-1 rounded border-l-4 px-2 py-1 text-xs ${sev[f.severity] ?? sev.info}`} data-testid="finding">
      <div className="font-medium">
        <span className="badge mr-1 bg-white/60 dark:bg-black/30">{f.severity}</span>
        {f.title}
      </div>
      <div className="muted mt-0.5">{f.evidence}</div>
      <div className="mt-0.5">→ {f.suggestion}</div>
    </div>
  );
}

function Node({ n, total, findings, depth }: { n: PlanNode; total: number; findings: Map<number, Finding[]>; depth: number }) {
  const [open, setOpen] = useState(true);
  const own = exclusiveCost(n);
  const share = total > 0 ? own / total : 0;
  const notes = findings.get(n.id) ?? [];
  const conds = [
    n.index_cond && `Index Cond: ${n.index_cond}`,
    n.hash_cond && `Hash Cond: ${n.hash_cond}`,
    n.filter && `Filter: ${n.filter}`,
    n.sort_key?.length && `Sort Key: ${n.sort_key.join(', ')}`,
  ].filter(Boolean) as string[];
  return (
    <li role="treeitem" aria-expanded={n.children.length ? open : undefined} aria-level={depth + 1} className="relative">
      <div className={`rounded-md border px-2 py-1.5 ${notes.length ? 'border-amber-400 dark:border-amber-600' : 'border-zinc-200 dark:border-zinc-700'}`}>
        <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5">
          {n.children.length > 0 && (
            <button type="button" className="w-4 text-xs text-zinc-500" aria-label={open ? 'Collapse' : 'Expand'} onClick={() => setOpen(!open)}>
              {open ? '▾' : '▸'}
            </button>
          )}
          <span className="font-semibold">{n.join_type ? `${n.join_type} ` : ''}{n.node_type}</span>
          {n.relation && (
            <span className="sql">
              on {n.relation}
              {n.alias && n.alias !== n.relation ? ` ${n.alias}` : ''}
            </span>
          )}
          {n.index_name && <span className="sql">using {n.index_name}</span>}
          <span className="ml-auto flex flex-wrap gap-x-3 text-xs tabular-nums text-zinc-600 dark:text-zinc-300">
            <span title="startup..total cost">cost {formatNumber(n.startup_cost, 2)}..{formatNumber(n.total_cost, 2)}</span>
            <span title="estimated rows">rows {formatCount(n.plan_rows)}</span>
            {n.actual_rows !== undefined && (
              <span title="actual rows × loops">
                actual {formatCount(n.actual_rows)}
                {n.actual_loops && n.actual_loops > 1 ? ` ×${n.actual_loops}` : ''}
              </span>
            )}
            {n.actual_total_time_ms !== undefined && <span>{formatMs(n.actual_total_time_ms)}</span>}
          </span>
        </div>
        <div className="mt-1 h-1 w-full rounded bg-zinc-100 dark:bg-zinc-800" title={`${Math.round(share * 100)} % of the plan's cost is this node's own`}>
          <div className={`h-1 rounded ${share > 0.5 ? 'bg-red-500' : share > 0.2 ? 'bg-amber-500' : 'bg-sky-500'}`} style={{ width: `${Math.max(1, share * 100)}%` }} />
        </div>
        {conds.map((c) => (
          <div key={c} className="sql muted mt-0.5 break-words">
            {c}
          </div>
        ))}
        {n.rows_removed_by_filter ? <div className="muted text-xs">Rows removed by filter: {formatCount(n.rows_removed_by_filter)}</div> : null}
        {notes.map((f, i) => (
          <FindingNote key={i} f={f} />
        ))}
      </div>
      {open && n.children.length > 0 && (
        <ul role="group" className="ml-3 mt-1 space-y-1 border-l border-zinc-200 pl-3 dark:border-zinc-700">
          {n.children.map((c) => (
            <Node key={c.id} n={c} total={total} findings={findings} depth={depth + 1} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function PlanTree({ root, findings = [], label = 'Query plan' }: { root: PlanNode; findings?: Finding[]; label?: string }) {
  const byNode = findingsByNode(findings);
  const unattached = byNode.get(-1) ?? [];
  return (
    <div data-testid="plan-tree">
      <ul role="tree" aria-label={label} className="space-y-1">
        <Node n={root} total={root.total_cost ?? 0} findings={byNode} depth={0} />
      </ul>
      {unattached.map((f, i) => (
        <FindingNote key={i} f={f} />
      ))}
    </div>
  );
}
