'use client';
import { useStatements } from '@/lib/hooks/useStatements';
import { useTarget } from '@/lib/target';
import { StatementsTable } from '@/ui/queries/statements-table';

export default function QueriesPage() {
  const { target } = useTarget();
  const { data, error } = useStatements(target);
  return (
    <div className="space-y-2">
      <h1 className="text-base font-semibold">Queries</h1>
      {error && <p className="text-red-600">{error.message}</p>}
      {data ? (
        <StatementsTable rows={data.statements} showTarget={!target} />
      ) : (
        !error && <div className="panel h-96 animate-pulse" aria-hidden />
      )}
      {data && data.total > data.statements.length && (
        <p className="muted text-xs">Showing the first {data.statements.length} of {data.total} statements.</p>
      )}
    </div>
  );
}
