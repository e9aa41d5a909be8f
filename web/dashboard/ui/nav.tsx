'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { ConnectionIndicator } from './connection-indicator';
import { TargetSelect } from './target-select';
import { ThemeToggle } from './theme-toggle';

const links = [
  { href: '/', label: 'Overview' },
  { href: '/queries/', label: 'Queries' },
  { href: '/recommendations/', label: 'Recommendations' },
  { href: '/analyse/', label: 'Analyse' },
  { href: '/settings/', label: 'Status & settings' },
];

export function Nav() {
  const path = usePathname() ?? '/';
  const active = (href: string) => (href === '/' ? path === '/' : path.startsWith(href.replace(/\/$/, '')));
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
