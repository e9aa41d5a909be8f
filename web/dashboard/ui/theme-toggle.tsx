'use client';
import { useEffect, useState } from 'react';

type Theme = 'system' | 'light' | 'dark';
const KEY = 'optischema.theme';

export function applyTheme(t: Theme): void {
  const dark = t === 'dark' || (t === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', dark);
}

/** Cycles system → light → dark; "system" follows prefers-color-scheme live. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>('system');
  useEffect(() => {
    const saved = (localStorage.getItem(KEY) as Theme | null) ?? 'system';
    setTheme(saved);
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const onChange = () => applyTheme((localStorage.getItem(KEY) as Theme | null) ?? 'system');
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  const next: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' };
  const icon: Record<Theme, string> = { system: '◐', light: '☀', dark: '☾' };
  return (
    <button
      type="button"
      className="btn-ghost px-2 py-1 text-xs"
      aria-label={`Theme: ${theme}. Switch to ${next[theme]}`}
      title={`Theme: ${theme}`}
      onClick={() => {
        const t = next[theme];
        setTheme(t);
        localStorage.setItem(KEY, t);
        applyTheme(t);
      }}
    >
      <span aria-hidden>{icon[theme]}</span>
      <span className="hidden sm:inline">{theme}</span>
    </button>
  );
}
