'use client';
import type { ReactNode } from 'react';
import { SWRConfig } from 'swr';
import { LiveProvider } from '@/lib/live';
import { TargetProvider } from '@/lib/target';
import { ToastProvider } from '@/ui/toast';

export function Providers({ children }: { children: ReactNode }) {
  return (
    <SWRConfig value={{ keepPreviousData: true, errorRetryInterval: 3000, shouldRetryOnError: true }}>
      <LiveProvider>
        <TargetProvider>
          <ToastProvider>{children}</ToastProvider>
        </TargetProvider>
      </LiveProvider>
    </SWRConfig>
  );
}
