import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';
import { Providers } from './providers';
import { Nav } from '@/ui/nav';

export const metadata: Metadata = {
  title: 'OptiSchema',
  description: 'PostgreSQL performance: live workload, plans and index advice',
};
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

// Runs before first paint so a dark-mode user never sees a white flash.
const themeScript = `try{var t=localStorage.getItem('optischema.theme')||'system';if(t==='dark'||(t==='system'&&matchMedia('(prefers-color-scheme: dark)').matches))document.documentElement.classList.add('dark')}catch(e){}`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body className="min-h-screen text-sm">
        <Providers>
          <Nav />
          <main className="mx-auto max-w-[1600px] px-3 py-4 sm:px-5">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
