'use client';
// The selected database ("all" = every target), kept across pages and reloads.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';

const KEY = 'optischema.target';
type TargetCtx = { target: string | undefined; setTarget: (t: string | undefined) => void };
const Ctx = createContext<TargetCtx>({ target: undefined, setTarget: () => {} });

export function TargetProvider({ children }: { children: ReactNode }) {
  const [target, setState] = useState<string | undefined>(undefined);
  useEffect(() => {
    try {
      const saved = window.localStorage.getItem(KEY);
      if (saved) setState(saved);
    } catch {
      /* storage off */
    }
  }, []);
  const setTarget = (t: string | undefined) => {
    setState(t);
    try {
      if (t) window.localStorage.setItem(KEY, t);
      else window.localStorage.removeItem(KEY);
    } catch {
      /* storage off */
    }
  };
  return <Ctx.Provider value={{ target, setTarget }}>{children}</Ctx.Provider>;
}

export const useTarget = () => useContext(Ctx);
