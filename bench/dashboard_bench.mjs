// The dashboard with 5,000 statements and a day of history, in real headless
// Chromium: time to the overview's first meaningful paint, the 24 h view of
// the top statements, the Queries page, and the history API's answers.
//
// usage: node bench/dashboard_bench.mjs   (after make build and make dashboard)
// Starts its own PostgreSQL (scripts/harness.sh) and engine; seeds the
// engine's data directory with build/bench/optischema-history-seed.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'web/dashboard/package.json'));
const { chromium } = require('playwright-core');
const ENGINE = path.join(ROOT, 'build/optischema');
const SEED = path.join(ROOT, 'build/bench/optischema-history-seed');
const OUT = path.join(ROOT, 'web/dashboard/out');
const HOURS = Number(process.env.HOURS ?? 24);
const STATEMENTS = 5000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'optischema-dash-bench-'));
fs.chmodSync(tmp, 0o755);
const pgDir = path.join(tmp, 'pg');
const harness = (...args) => execFileSync(path.join(ROOT, 'scripts/harness.sh'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
let engine = null;
let ctx = null;

try {
  const env = Object.fromEntries(harness('up', pgDir, '--no-nats', '--owner', String(process.pid)).split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const psql = (sql, db = 'dash') => harness('psql', pgDir, '-d', db, '-qAt', '-c', sql);
  psql('CREATE DATABASE dash', 'postgres');
  // 5,000 distinct statements: column subsets of a wide table.
  const cols = Array.from({ length: 20 }, (_, i) => `c${i}`);
  psql(`CREATE EXTENSION pg_stat_statements; CREATE TABLE wide (${cols.map((c) => `${c} int`).join(', ')}); INSERT INTO wide SELECT ${cols.map(() => 'g').join(', ')} FROM generate_series(1, 10) g;`);
  const lines = [];
  const pick = (start, k, chosen) => {
    if (lines.length >= STATEMENTS) return;
    if (chosen.length === k) return void lines.push(`SELECT ${chosen.join(', ')} FROM wide WHERE c0 = 1;`);
    for (let i = start; i < cols.length; i++) pick(i + 1, k, [...chosen, cols[i]]);
  };
  for (const k of [3, 4, 5]) pick(0, k, []);
  fs.writeFileSync(path.join(tmp, 'many.sql'), lines.join('\n'));
  harness('psql', pgDir, '-d', 'dash', '-qAt', '-f', path.join(tmp, 'many.sql'));
  const dsn = `host=${env.PGHOST} port=${env.PGPORT} user=${env.PGUSER} dbname=dash`;
  const data = path.join(tmp, 'data');
  let t = Date.now();
  console.log(execFileSync(SEED, [data, 'dash', dsn, String(HOURS), '30', '300'], { encoding: 'utf8' }).trim(), `(${Date.now() - t} ms)`);
  engine = spawn(ENGINE, ['serve', '--dsn', dsn, '--listen', '127.0.0.1:0', '--data-dir', data, '--poll-interval', '2s', '--analysis-interval', '0', '--static-dir', OUT], { stdio: ['ignore', 'pipe', 'ignore'] });
  const base = await new Promise((resolve, reject) => {
    let buf = '';
    engine.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/optischema: serving (http:\/\/\S+)/);
      if (m) resolve(m[1].replace(/\/$/, ''));
    });
    engine.once('exit', (c) => reject(new Error(`engine exited with ${c}`)));
  });
  for (let i = 0; i < 60; i++) {
    const r = await (await fetch(base + '/api/metrics/raw?limit=1')).json();
    if (r.total >= STATEMENTS) break;
    await sleep(500);
  }
  // The history API on its own.
  // The statement with the most history (the seeder's hottest run in every poll).
  const hot = await (await fetch(base + '/api/metrics/raw?limit=100')).json();
  let fp = '';
  let most = -1;
  for (const s of hot.statements) {
    const h = await (await fetch(`${base}/api/metrics/history?fingerprint=${s.fingerprint}&range=24h`)).json();
    if ((h.points ?? []).length > most) {
      most = h.points.length;
      fp = s.fingerprint;
    }
  }
  for (const [what, q] of [['one statement, 24 h', `fingerprint=${fp}&range=24h`], ['the database, 24 h', 'range=24h'], ['one statement, 1 h', `fingerprint=${fp}&range=1h`]]) {
    t = performance.now();
    const body = await (await fetch(`${base}/api/metrics/history?${q}`)).text();
    console.log(`GET /api/metrics/history (${what}): ${(performance.now() - t).toFixed(1)} ms, ${(body.length / 1024).toFixed(0)} KiB, ${(JSON.parse(body).points ?? []).length} points`);
  }
  ctx = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  let inflight = 0;
  let lastDone = 0;
  page.on('request', (r) => r.url().includes('/api/') && inflight++);
  const done = (r) => {
    if (r.url().includes('/api/')) {
      inflight--;
      lastDone = performance.now();
    }
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  const idle = async () => {
    for (;;) {
      await sleep(50);
      if (inflight <= 0 && performance.now() - lastDone > 400) return;
    }
  };
  for (const run of [1, 2]) {
    await page.goto('about:blank');
    await page.goto(base + '/');
    const fmp = await page.waitForFunction(() => ([...document.querySelectorAll('[data-testid=metrics-value]')].some((e) => /\d/.test(e.textContent ?? '')) ? performance.now() : false), null, { timeout: 30_000, polling: 'raf' });
    console.log(`overview first meaningful paint (run ${run}): ${(await fmp.jsonValue()).toFixed(0)} ms`);
  }
  await idle();
  t = performance.now();
  await page.getByRole('radio', { name: '24h', exact: true }).first().click();
  await sleep(60);
  await idle();
  console.log(`overview switched to 24 h (top statements' share, ${HOURS} h of 30 s polls): ${(lastDone - t).toFixed(0)} ms until the last answer`);
  t = performance.now();
  await page.goto(base + '/queries/');
  await page.locator('[data-testid=statement-row]').first().waitFor({ timeout: 30_000 });
  console.log(`Queries page with ${STATEMENTS} statements: ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  await page.goto(`${base}/queries/query/?fp=${fp}&target=dash`);
  await page.locator('[data-testid=history-charts]').waitFor({ timeout: 30_000 });
  await page.getByRole('radio', { name: '24h', exact: true }).first().click();
  await sleep(60);
  await idle();
  console.log(`a statement's page, then its 24 h history: ${(lastDone - t).toFixed(0)} ms`);
} finally {
  await ctx?.close().catch(() => {});
  engine?.kill('SIGTERM');
  await sleep(500);
  try { harness('down', pgDir); } catch {}
  fs.rmSync(tmp, { recursive: true, force: true });
}
