'use client';
// Runs apply/rollback/test/dismiss with a pending state, toasts the outcome,
// writes the answer (the stored recommendation) into the SWR caches, and
// asks for the token when the engine says 401/403.
import { useState } from 'react';
import { useSWRConfig } from 'swr';
import { api, ApiError } from '../api';
import type { Recommendation } from '../schemas';
import { useToast } from '@/ui/toast';

export type Action = 'apply' | 'rollback' | 'test' | 'dismiss';
const verbs: Record<Action, [string, string]> = {
  apply: ['Applied', 'Apply failed'],
  rollback: ['Rolled back', 'Rollback failed'],
  test: ['Tested in the sandbox', 'Sandbox test failed'],
  dismiss: ['Dismissed', 'Dismiss failed'],
};

export function useRecommendationAction(onNeedToken: (retry: () => void, reason: string) => void) {
  const [pending, setPending] = useState<Action | null>(null);
  const [error, setError] = useState<string | null>(null);
  const toast = useToast();
  const { mutate } = useSWRConfig();

  const run = async (action: Action, rec: Recommendation): Promise<Recommendation | null> => {
    setPending(action);
    setError(null);
    try {
      const updated = await api.act(action, rec.id, rec.target);
      await mutate(['suggestion', rec.id], updated, { revalidate: false });
      await mutate((k) => Array.isArray(k) && k[0] === 'suggestions');
      const extra =
        action === 'test' && updated.sandbox
          ? `${updated.sandbox.verdict}${updated.sandbox.summary ? `: ${updated.sandbox.summary}` : ''}`
          : updated.last_error || rec.index_name || rec.title;
      toast({ kind: updated.last_error && action !== 'dismiss' ? 'error' : 'success', title: verbs[action][0], body: extra });
      return updated;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      setError(msg);
      if (e instanceof ApiError && e.needsToken) onNeedToken(() => void run(action, rec), msg);
      toast({ kind: 'error', title: verbs[action][1], body: msg });
      return null;
    } finally {
      setPending(null);
    }
  };
  return { run, pending, error };
}
