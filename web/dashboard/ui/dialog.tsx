'use client';
// A modal on Radix Dialog: focus trap, Escape to close, scroll lock, labelled.
import * as D from '@radix-ui/react-dialog';
import type { ReactNode } from 'react';

export function Modal({
  open,
  onOpenChange,
  title,
  description,
  children,
  wide = false,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: ReactNode;
  description?: ReactNode;
  children: ReactNode;
  wide?: boolean;
}) {
  return (
    <D.Root open={open} onOpenChange={onOpenChange}>
      <D.Portal>
        <D.Overlay className="fixed inset-0 z-40 bg-black/40 backdrop-blur-[1px]" />
        <D.Content
          className={`panel fixed left-1/2 top-1/2 z-50 max-h-[92vh] w-[calc(100vw-1rem)] -translate-x-1/2 -translate-y-1/2 overflow-y-auto p-4 shadow-xl sm:p-5 ${
            wide ? 'max-w-5xl' : 'max-w-lg'
          }`}
        >
          <div className="mb-3 flex items-start justify-between gap-4">
            <div className="min-w-0">
              <D.Title className="text-base font-semibold break-words">{title}</D.Title>
              {description ? (
                <D.Description className="muted mt-0.5 text-xs">{description}</D.Description>
              ) : (
                <D.Description className="sr-only">Details</D.Description>
              )}
            </div>
            <D.Close aria-label="Close" className="btn-ghost px-2 py-0.5">
              ✕
            </D.Close>
          </div>
          {children}
        </D.Content>
      </D.Portal>
    </D.Root>
  );
}
