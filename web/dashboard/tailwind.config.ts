import type { Config } from 'tailwindcss';

// Dark mode follows a class on <html>, set before first paint from the saved
// choice or prefers-color-scheme (see app/layout.tsx), so the toggle can win.
const config: Config = {
  darkMode: 'class',
  content: ['./app/**/*.{ts,tsx}', './ui/**/*.{ts,tsx}', './lib/**/*.{ts,tsx}'],
  theme: {
    extend: {
      fontFamily: {
        mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'Consolas', 'monospace'],
      },
    },
  },
  plugins: [],
};
export default config;
