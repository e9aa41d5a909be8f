'use client';
import { useState } from 'react';

/** Monospace SQL with a copy button (DDL is meant to be pasted into psql). */
export function SqlBlock({ sql, label, testId }: { sql: string; label?: string; testId?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="relative">
      {label && <div className="muted mb-0.5 text-xs">{label}</div>}
      <pre className="sql overflow-x-auto whitespace-pre-wrap break-words rounded-md bg-zinc-100 p-2 pr-14 dark:bg-zinc-800" data-testid={testId}>
        {sql}
      </pre>
      <button
        type="button"
        className="absolute right-1.5 top-[calc(1.25rem)] rounded px-1.5 text-[11px] text-zinc-500 hover:bg-zinc-200 dark:hover:bg-zinc-700"
        style={label ? undefined : { top: '0.375rem' }}
        onClick={() => {
          void navigator.clipboard?.writeText(sql).then(() => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          });
        }}
      >
        {copied ? 'copied' : 'copy'}
      </button>
    </div>
  );
}
