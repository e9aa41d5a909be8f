'use client';
// The databases selector (Radix Select: keyboard and screen-reader ready).
import * as S from '@radix-ui/react-select';
import useSWR from 'swr';
import { api } from '@/lib/api';
import { useTarget } from '@/lib/target';

const ALL = '__all__';

export function TargetSelect() {
  const { target, setTarget } = useTarget();
  const { data } = useSWR('targets', api.targets);
  const targets = data?.targets ?? [];
  return (
    <S.Root value={target ?? ALL} onValueChange={(v) => setTarget(v === ALL ? undefined : v)}>
      <S.Trigger aria-label="Database" className="input inline-flex min-w-[9rem] items-center justify-between gap-2 py-1 text-xs">
        <S.Value />
        <S.Icon aria-hidden>▾</S.Icon>
      </S.Trigger>
      <S.Portal>
        <S.Content position="popper" sideOffset={4} className="panel z-50 min-w-[9rem] p-1 shadow-lg">
          <S.Viewport>
            {[ALL, ...targets].map((t) => (
              <S.Item
                key={t}
                value={t}
                className="cursor-pointer rounded px-2 py-1 text-xs outline-none data-[highlighted]:bg-sky-100 dark:data-[highlighted]:bg-sky-900"
              >
                <S.ItemText>{t === ALL ? 'All databases' : t}</S.ItemText>
              </S.Item>
            ))}
          </S.Viewport>
        </S.Content>
      </S.Portal>
    </S.Root>
  );
}
