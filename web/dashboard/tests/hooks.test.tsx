// The live hooks against a fake WebSocket: backoff, resubscription after a
// reconnect, frame validation, and metrics events merged into the SWR cache.
import { act, render, renderHook, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { SWRConfig } from 'swr';
import type { ReactNode } from 'react';
import { backoffDelay, useWebSocket } from '@/lib/hooks/useWebSocket';
import { mergeMetricsEvent, useMetrics } from '@/lib/hooks/useMetrics';
import { LiveProvider } from '@/lib/live';
import type { EventFrame, SummaryResponse } from '@/lib/schemas';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((ev?: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(x: string) {
    this.sent.push(x);
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(x: unknown) {
    this.onmessage?.({ data: typeof x === 'string' ? x : JSON.stringify(x) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
  /** The engine refusing the token: close code 1008 (policy violation). */
  refuse() {
    this.readyState = 3;
    this.onclose?.({ code: 1008 });
  }
}
const create = (u: string) => new FakeSocket(u) as unknown as WebSocket;
const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('backoffDelay', () => {
  it('doubles from the minimum up to the cap, with jitter', () => {
    const mid = () => 0.5;
    expect(backoffDelay(1, 500, 10_000, mid)).toBe(500);
    expect(backoffDelay(2, 500, 10_000, mid)).toBe(1000);
    expect(backoffDelay(10, 500, 10_000, mid)).toBe(10_000);
    expect(backoffDelay(1, 500, 10_000, () => 0)).toBe(400);
    expect(backoffDelay(1, 500, 10_000, () => 1)).toBe(600);
  });
});

describe('useWebSocket', () => {
  it('subscribes, goes live on "subscribed", validates frames, reconnects and resubscribes', () => {
    const events: EventFrame[] = [];
    const { result } = renderHook(() =>
      useWebSocket({ url: 'ws://x/ws', targets: ['demo'], topics: ['metrics'], onEvent: (e) => events.push(e), create, minDelayMs: 100 }),
    );
    expect(result.current.state).toBe('connecting');
    act(() => last().open());
    expect(JSON.parse(last().sent[0]!)).toEqual({ type: 'subscribe', targets: ['demo'], topics: ['metrics'] });
    act(() => last().frame({ type: 'hello', topics: ['metrics'] }));
    act(() => last().frame({ type: 'subscribed', targets: ['demo'], topics: ['metrics'] }));
    expect(result.current.state).toBe('live');

    act(() => last().frame({ type: 'metrics', target: 'demo', ts: 5, payload: {} }));
    act(() => last().frame('garbage'));
    act(() => last().frame({ type: 'metrics', target: 'demo' }));
    expect(events).toHaveLength(1);
    expect(result.current.invalidFrames).toBe(2);
    expect(result.current.lastEventTs).toBe(5);

    act(() => last().drop());
    expect(result.current.state).toBe('reconnecting');
    expect(FakeSocket.all).toHaveLength(1);
    act(() => void vi.advanceTimersByTime(200));
    expect(FakeSocket.all).toHaveLength(2);
    act(() => last().open());
    expect(JSON.parse(last().sent[0]!).type).toBe('subscribe');
    act(() => last().frame({ type: 'subscribed', targets: ['demo'], topics: ['metrics'] }));
    expect(result.current.state).toBe('live');
  });

  it('backs off longer after repeated failures', () => {
    renderHook(() => useWebSocket({ url: 'ws://x/ws', onEvent: () => {}, create, minDelayMs: 100, maxDelayMs: 1000 }));
    act(() => last().drop()); // retry 1 after ~100 ms
    act(() => void vi.advanceTimersByTime(130));
    expect(FakeSocket.all).toHaveLength(2);
    act(() => last().drop()); // retry 2 after ~200 ms
    act(() => void vi.advanceTimersByTime(130));
    expect(FakeSocket.all).toHaveLength(2);
    act(() => void vi.advanceTimersByTime(150));
    expect(FakeSocket.all).toHaveLength(3);
  });

  it('sends the token first, and waits for a new one when the engine refuses it', async () => {
    const { setToken } = await import('@/lib/token');
    let token = 'wrong-token-0123456789';
    const { result } = renderHook(() =>
      useWebSocket({ url: 'ws://x/ws', onEvent: () => {}, create, minDelayMs: 100, token: () => token }),
    );
    act(() => last().open());
    expect(JSON.parse(last().sent[0]!)).toEqual({ type: 'auth', token: 'wrong-token-0123456789' });
    expect(JSON.parse(last().sent[1]!).type).toBe('subscribe');
    act(() => last().refuse());
    expect(result.current.state).toBe('unauthorized');
    act(() => void vi.advanceTimersByTime(20_000));
    expect(FakeSocket.all).toHaveLength(1); // no retry with the same token
    token = 'right-token-0123456789';
    act(() => setToken(token));
    expect(FakeSocket.all).toHaveLength(2);
    act(() => last().open());
    expect(JSON.parse(last().sent[0]!)).toEqual({ type: 'auth', token: 'right-token-0123456789' });
    act(() => last().frame({ type: 'hello', topics: [] }));
    act(() => last().frame({ type: 'subscribed', targets: [], topics: [] }));
    expect(result.current.state).toBe('live');
    act(() => setToken(''));
  });

  it('sends no auth frame without a token', () => {
    renderHook(() => useWebSocket({ url: 'ws://x/ws', onEvent: () => {}, create, token: () => '' }));
    act(() => last().open());
    expect(last().sent.map((x) => JSON.parse(x).type)).toEqual(['subscribe']);
  });

  it('closes the socket on unmount without reconnecting', () => {
    const { unmount } = renderHook(() => useWebSocket({ url: 'ws://x/ws', onEvent: () => {}, create }));
    act(() => last().open());
    unmount();
    act(() => void vi.advanceTimersByTime(20_000));
    expect(FakeSocket.all).toHaveLength(1);
  });
});

const summary = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/summary.json'), 'utf8')) as SummaryResponse;
const payloadFor = (ts: number, calls: number) => {
  const t = summary.targets[0]!;
  return {
    ts,
    interval_ms: t.interval_ms,
    baseline: false,
    reset_detected: false,
    evicted: 0,
    hidden_rows: 0,
    summary: { ...t.summary, interval: { ...t.summary.interval, calls_per_s: calls } },
    database: t.database,
    statements: [],
  };
};

describe('mergeMetricsEvent', () => {
  it('replaces the target entry with a newer poll, ignores older ones and invalid payloads', () => {
    const polled = summary.targets[0]!.polled;
    const newer = mergeMetricsEvent(summary, 'demo', payloadFor(polled + 1000, 123));
    expect(newer?.targets[0]?.polled).toBe(polled + 1000);
    expect(newer?.targets[0]?.summary.interval.calls_per_s).toBe(123);
    expect(mergeMetricsEvent(newer, 'demo', payloadFor(polled, 1))).toBe(newer);
    expect(mergeMetricsEvent(summary, 'demo', { nope: 1 })).toBe(summary);
    expect(mergeMetricsEvent(undefined, 'other', payloadFor(1, 1))?.targets[0]?.target).toBe('other');
  });
});

describe('useMetrics', () => {
  it('loads the summary, then updates from a metrics event without a reload', async () => {
    vi.useRealTimers();
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(summary), { status: 200 })));
    vi.stubGlobal('WebSocket', FakeSocket);
    function Probe() {
      const { data } = useMetrics();
      return <span data-testid="cps">{data ? data.targets[0]!.summary.interval.calls_per_s : 'loading'}</span>;
    }
    const wrapper = ({ children }: { children: ReactNode }) => (
      <SWRConfig value={{ provider: () => new Map(), dedupingInterval: 0 }}>
        <LiveProvider>{children}</LiveProvider>
      </SWRConfig>
    );
    render(<Probe />, { wrapper });
    await screen.findByText(String(summary.targets[0]!.summary.interval.calls_per_s));
    act(() => last().open());
    act(() => last().frame({ type: 'subscribed', targets: [], topics: [] }));
    act(() => last().frame({ type: 'metrics', target: 'demo', ts: Date.now(), payload: payloadFor(Date.now(), 4242) }));
    expect(await screen.findByText('4242')).toBeTruthy();
  });
});
