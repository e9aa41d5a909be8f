'use client';
import useSWR from 'swr';
import { api } from '../api';
import { useLiveEvent } from '../live';
import { Recommendation } from '../schemas';

/** Recommendations, updated in place by `recommendation` events (each event
 *  carries one whole recommendation) and re-listed after each analysis. */
export function useRecommendations(target?: string) {
  const swr = useSWR(['suggestions', target ?? ''], () => api.suggestions(target), { dedupingInterval: 1000 });
  useLiveEvent('recommendation', (ev) => {
    if (target && ev.target !== target) return;
    const rec = Recommendation.safeParse(ev.payload);
    if (!rec.success) return void swr.mutate();
    void swr.mutate(
      (cur) => {
        const xs = cur?.suggestions ?? [];
        const i = xs.findIndex((x) => x.id === rec.data.id);
        return { suggestions: i >= 0 ? xs.map((x, j) => (j === i ? rec.data : x)) : [rec.data, ...xs] };
      },
      { revalidate: false },
    );
  });
  useLiveEvent('analysis', (ev) => {
    if (!target || ev.target === target) void swr.mutate();
  });
  return swr;
}
