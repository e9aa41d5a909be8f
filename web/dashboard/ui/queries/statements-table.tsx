'use client';
// All statements in one table. Rows are virtualised (only the visible ~30 are
// in the DOM), so 5,000 statements scroll and re-sort smoothly. Grid rows
// instead of <table> because virtualised rows are absolutely positioned.
import { useVirtualizer } from '@tanstack/react-virtual';
import Link from 'next/link';
import { useMemo, useRef, useState } from 'react';
import { formatCount, formatMs, formatPercent, oneLine } from '@/lib/format';
import type { Statement } from '@/lib/schemas';
import { filterAndSort, type SortDir, type SortKey } from '@/lib/sort';

const COLS: { key: SortKey; label: string; cls: string; title?: string }[] = [
  { key: 'query', label: 'Statement', cls: 'text-left' },
  { key: 'calls', label: 'Calls', cls: 'num' },
  { key: 'total_time_ms', label: 'Total', cls: 'num' },
  { key: 'mean_time_ms', label: 'Mean', cls: 'num hidden sm:block' },
  { key: 'rows', label: 'Rows', cls: 'num hidden md:block' },
  { key: 'cache_hit_ratio', label: 'Hit', cls: 'num hidden lg:block', title: 'Shared buffer cache hit ratio' },
  { key: 'share_of_total_time', label: 'Share', cls: 'num hidden sm:block' },
  { key: 'interval_time', label: 'Last poll', cls: 'num hidden lg:block', title: 'Total time in the last interval' },
];
const GRID =
  'grid grid-cols-[minmax(0,1fr)_3.5rem_4.5rem] sm:grid-cols-[minmax(0,1fr)_5rem_5.5rem_5rem_4rem] md:grid-cols-[minmax(0,1fr)_5rem_5.5rem_5rem_5rem_4rem] lg:grid-cols-[minmax(0,1fr)_5.5rem_6rem_5.5rem_6rem_5rem_4.5rem_6rem] gap-x-2 items-center';

export function StatementsTable({ rows, showTarget }: { rows: Statement[]; showTarget: boolean }) {
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; dir: SortDir }>({ key: 'total_time_ms', dir: 'desc' });
  const view = useMemo(() => filterAndSort(rows, filter, sort.key, sort.dir), [rows, filter, sort]);
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: view.length, getScrollElement: () => parent.current, estimateSize: () => 44, overscan: 12 });

  const toggle = (key: SortKey) =>
    setSort((s) => (s.key === key ? { key, dir: s.dir === 'desc' ? 'asc' : 'desc' } : { key, dir: key === 'query' ? 'asc' : 'desc' }));

  return (
    <div className="panel flex flex-col">
      <div className="flex flex-wrap items-center gap-2 border-b border-zinc-200 p-2 dark:border-zinc-800">
        <input
          type="search"
          className="input w-full sm:w-80"
          placeholder="Filter by SQL, fingerprint or target…"
          aria-label="Filter statements"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          data-testid="statement-filter"
        />
        <span className="muted text-xs" data-testid="statement-count">
          {formatCount(view.length)} of {formatCount(rows.length)} statements
        </span>
      </div>
      <div role="table" aria-label="Statements" aria-rowcount={view.length} className="flex min-h-0 flex-col">
        <div role="row" className={`${GRID} border-b border-zinc-200 px-2 dark:border-zinc-800`}>
          {COLS.map((c) => (
            <div role="columnheader" key={c.key} className={`${c.cls}`} aria-sort={sort.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
              <button type="button" className={`th w-full ${c.cls.includes('num') ? 'text-right' : 'text-left'}`} onClick={() => toggle(c.key)} title={c.title}>
                {c.label}
                {sort.key === c.key ? (sort.dir === 'asc' ? ' ↑' : ' ↓') : ''}
              </button>
            </div>
          ))}
        </div>
        <div ref={parent} className="h-[calc(100vh-14rem)] min-h-[20rem] overflow-auto" data-testid="statements-scroller">
          <div style={{ height: v.getTotalSize(), position: 'relative' }}>
            {v.getVirtualItems().map((item) => {
              const s = view[item.index];
              if (!s) return null;
              const href = `/queries/query/?fp=${s.fingerprint}${s.target ? `&target=${s.target}` : ''}`;
              return (
                <div
                  role="row"
                  key={`${s.target ?? ''}/${s.fingerprint}`}
                  data-testid="statement-row"
                  data-fingerprint={s.fingerprint}
                  className={`${GRID} absolute left-0 top-0 w-full border-b border-zinc-100 px-2 hover:bg-zinc-50 dark:border-zinc-800/60 dark:hover:bg-zinc-800/40`}
                  style={{ height: item.size, transform: `translateY(${item.start}px)` }}
                >
                  <div role="cell" className="min-w-0">
                    <Link href={href} className="sql block truncate text-sky-800 hover:underline dark:text-sky-300" title={s.query}>
                      {oneLine(s.query)}
                    </Link>
                    <div className="muted truncate text-[11px]">
                      {showTarget && s.target ? `${s.target} · ` : ''}
                      {s.fingerprint}
                      {s.parse_error ? ' · unparsed' : ''}
                    </div>
                  </div>
                  <div role="cell" className="num">{formatCount(s.calls)}</div>
                  <div role="cell" className="num">{formatMs(s.total_time_ms)}</div>
                  <div role="cell" className="num hidden sm:block">{formatMs(s.mean_time_ms)}</div>
                  <div role="cell" className="num hidden md:block">{formatCount(s.rows)}</div>
                  <div role="cell" className="num hidden lg:block">{formatPercent(s.cache_hit_ratio)}</div>
                  <div role="cell" className="num hidden sm:block">{formatPercent(s.share_of_total_time)}</div>
                  <div role="cell" className="num hidden lg:block">{formatMs(s.interval?.total_time_ms)}</div>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}
