'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useAlerts } from '@/lib/hooks/useAlerts';
import { ConnectionIndicator } from './connection-indicator';
import { TargetSelect } from './target-select';
import { ThemeToggle } from './theme-toggle';

const links = [
  { href: '/', label: 'Overview' },
  { href: '/queries/', label: 'Queries' },
  { href: '/recommendations/', label: 'Recommendations' },
  { href: '/alerts/', label: 'Alerts' },
  { href: '/analyse/', label: 'Analyse' },
  { href: '/settings/', label: 'Status & settings' },
];

export function Nav() {
  const path = usePathname() ?? '/';
  const active = (href: string) => (href === '/' ? path === '/' : path.startsWith(href.replace(/\/$/, '')));
  // Alerts firing and not silenced, on every target: what needs someone.
  const { data: alerts } = useAlerts();
  const open = alerts?.firing.filter((a) => !a.silenced_by) ?? [];
  const critical = open.some((a) => a.severity === 'critical');
  return (
    <header className="sticky top-0 z-30 border-b border-zinc-200 bg-white/90 backdrop-blur dark:border-zinc-800 dark:bg-zinc-900/90">
      <div className="mx-auto flex max-w-[1600px] flex-wrap items-center gap-x-4 gap-y-2 px-3 py-2 sm:px-5">
        <Link href="/" className="text-sm font-bold tracking-tight">
          Opti<span className="text-sky-600">Schema</span>
        </Link>
        <nav aria-label="Main" className="order-last -mx-1 flex w-full gap-1 overflow-x-auto md:order-none md:w-auto">
          {links.map((l) => (
            <Link
              key={l.href}
              href={l.href}
              aria-current={active(l.href) ? 'page' : undefined}
              className={`whitespace-nowrap rounded-md px-2.5 py-1 text-sm ${
                active(l.href)
                  ? 'bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900'
                  : 'text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800'
              }`}
            >
              {l.label}
              {l.href === '/alerts/' && open.length > 0 && (
                <span
                  data-testid="alert-badge"
                  aria-label={`${open.length} alerts firing`}
                  className={`ml-1.5 rounded-full px-1.5 text-[11px] font-semibold ${critical ? 'bg-red-600 text-white' : 'bg-amber-500 text-zinc-950'}`}
                >
                  {open.length}
                </span>
              )}
            </Link>
          ))}
        </nav>
        <div className="ml-auto flex items-center gap-2">
          <TargetSelect />
          <ConnectionIndicator />
          <ThemeToggle />
        </div>
      </div>
    </header>
  );
}
