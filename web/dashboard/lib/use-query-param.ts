'use client';
import { useEffect, useState } from 'react';

/** Reads ?name= after mount. The export has no server, so pages take their
 *  parameters from the query string instead of dynamic route segments. */
export function useQueryParam(name: string): string | null | undefined {
  const [v, setV] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    const read = () => setV(new URLSearchParams(window.location.search).get(name));
    read();
    window.addEventListener('popstate', read);
    return () => window.removeEventListener('popstate', read);
  }, [name]);
  return v;
}
