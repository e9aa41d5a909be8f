import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, formatCount, formatMs, formatPercent, formatSpeedup, oneLine, targetSummary } from '@/lib/format';

describe('formatMs', () => {
  it('picks µs, ms, s, min and h', () => {
    expect(formatMs(0.042)).toBe('42 µs');
    expect(formatMs(0.0042)).toBe('4.2 µs');
    expect(formatMs(2.345)).toBe('2.35 ms');
    expect(formatMs(25.73)).toBe('25.7 ms');
    expect(formatMs(1530)).toBe('1.53 s');
    expect(formatMs(90_000)).toBe('1.5 min');
    expect(formatMs(3_600_000)).toBe('1 h');
    expect(formatMs(0)).toBe('0 ms');
  });
  it('prints a dash for missing values', () => {
    expect(formatMs(undefined)).toBe('–');
    expect(formatMs(Number.NaN)).toBe('–');
  });
});

describe('numbers', () => {
  it('separates thousands', () => expect(formatCount(1234567.4)).toBe('1,234,567'));
  it('shows percentages with enough decimals near 100 %', () => {
    expect(formatPercent(0.5)).toBe('50 %');
    expect(formatPercent(0.99993)).toBe('99.99 %');
    expect(formatPercent(1)).toBe('100 %');
  });
  it('uses binary byte units and marks freed space', () => {
    expect(formatBytes(26441098)).toBe('25 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(-163840)).toBe('−160 KiB');
  });
  it('formats speed-ups, unknown as a dash', () => {
    expect(formatSpeedup(358.17)).toBe('358×');
    expect(formatSpeedup(12.34)).toBe('12.3×');
    expect(formatSpeedup(1.425)).toBe('1.43×');
    expect(formatSpeedup(0)).toBe('–');
  });
  it('says how long ago', () => {
    expect(formatAgo(1000, 6000)).toBe('5 s ago');
    expect(formatAgo(0)).toBe('never');
    expect(formatAgo(0 + 1, 1 + 7_200_000)).toBe('2 h ago');
  });
  it('puts SQL on one line', () => expect(oneLine('SELECT a\n  FROM t\n')).toBe('SELECT a FROM t'));
});

describe('targetSummary', () => {
  const now = 1_000_000;
  it('says which engine of a fleet polls a target this engine stands by for', () => {
    expect(targetSummary({ standby: true, owner: 'optischema-2' }, now)).toBe('polled by engine optischema-2');
    expect(targetSummary({ standby: true, owner: '' }, now)).toBe('waiting for the fleet to pick an engine');
  });
  it('shows the last poll, and this engine when it is in a fleet', () => {
    expect(targetSummary({ last_poll: now - 3000, statements: 12, last_poll_duration_ms: 2.5 }, now)).toBe(
      'polled 3 s ago · 12 statements · 2.5 ms',
    );
    expect(targetSummary({ last_poll: now - 3000, owner: 'a', statements: 1, last_poll_duration_ms: 1 }, now)).toMatch(
      /^polled 3 s ago by this engine \(a\)/,
    );
  });
  it('puts an error first', () => {
    expect(targetSummary({ error: { message: 'connection refused' }, standby: true, owner: 'b' }, now)).toBe(
      'connection refused',
    );
  });
});
