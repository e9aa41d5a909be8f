'use client';
// Asks for the engine's API token when an action answered 401, so the DBA
// can retry without leaving the recommendation.
import { useState } from 'react';
import { setToken, getToken } from '@/lib/token';
import { Modal } from './dialog';

export function TokenDialog({
  open,
  onOpenChange,
  onSaved,
  reason,
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  onSaved: () => void;
  reason?: string;
}) {
  const [value, setValue] = useState(getToken());
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="API token needed" description={reason}>
      <form
        className="flex flex-col gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim());
          onOpenChange(false);
          onSaved();
        }}
      >
        <label className="text-sm">
          The engine&apos;s API token (<code className="sql">--api-token-file</code>)
          <input
            autoFocus
            type="password"
            className="input mt-1 w-full font-mono"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-label="API token"
          />
        </label>
        <div className="flex justify-end gap-2">
          <button type="button" className="btn-ghost" onClick={() => onOpenChange(false)}>
            Cancel
          </button>
          <button type="submit" className="btn-primary">
            Save and retry
          </button>
        </div>
      </form>
    </Modal>
  );
}
