'use client';
// Toasts on Radix (what shadcn's toast wraps): announced to screen readers,
// swipe-to-dismiss, and a viewport that stays out of the table's way.
import * as T from '@radix-ui/react-toast';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';

export type ToastKind = 'success' | 'error' | 'info';
type Toast = { id: number; kind: ToastKind; title: string; body?: string };
type Ctx = (t: Omit<Toast, 'id'>) => void;
const ToastCtx = createContext<Ctx>(() => {});

const tone: Record<ToastKind, string> = {
  success: 'border-emerald-500/60',
  error: 'border-red-500/70',
  info: 'border-sky-500/60',
};

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback<Ctx>((t) => setToasts((xs) => [...xs.slice(-3), { ...t, id: Date.now() + Math.random() }]), []);
  return (
    <ToastCtx.Provider value={push}>
      <T.Provider swipeDirection="right" duration={6000}>
        {children}
        {toasts.map((t) => (
          <T.Root
            key={t.id}
            data-kind={t.kind}
            onOpenChange={(open) => !open && setToasts((xs) => xs.filter((x) => x.id !== t.id))}
            className={`panel border-l-4 ${tone[t.kind]} p-3 shadow-lg`}
          >
            <T.Title className="text-sm font-semibold">{t.title}</T.Title>
            {t.body && <T.Description className="muted mt-1 text-xs break-words">{t.body}</T.Description>}
            <T.Close aria-label="Close" className="absolute right-2 top-1 text-zinc-400 hover:text-zinc-700">
              ×
            </T.Close>
          </T.Root>
        ))}
        <T.Viewport className="fixed bottom-3 right-3 z-[100] flex w-[22rem] max-w-[calc(100vw-1.5rem)] flex-col gap-2" />
      </T.Provider>
    </ToastCtx.Provider>
  );
}

export const useToast = () => useContext(ToastCtx);
