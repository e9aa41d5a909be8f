// The schemas accept what a real engine answers (fixtures captured from
// `make demo`) and reject frames the engine would never send.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {
  AdviceReport,
  AlertsResponse,
  DatabaseHistory,
  PlanResponse,
  RawResponse,
  StatementHistory,
  Status,
  SuggestionsResponse,
  SummaryResponse,
  parseFrame,
} from '@/lib/schemas';

const fixture = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8'));

describe('response schemas', () => {
  it.each([
    ['status.json', Status],
    ['summary.json', SummaryResponse],
    ['raw.json', RawResponse],
    ['suggestions.json', SuggestionsResponse],
    ['plan.json', PlanResponse],
    ['history.json', StatementHistory],
    ['db-history.json', DatabaseHistory],
    ['advice.json', AdviceReport],
    ['alerts.json', AlertsResponse],
  ] as const)('%s parses', (file, schema) => {
    const r = schema.safeParse(fixture(file));
    if (!r.success) throw new Error(JSON.stringify(r.error.issues.slice(0, 3)));
    expect(r.success).toBe(true);
  });

  it('keeps where a benefit comes from and the steps an index needs first', () => {
    const base = SuggestionsResponse.parse(fixture('suggestions.json')).suggestions[1];
    const gin = { ...base, using: 'gin', benefit_source: 'model', prerequisites: ['CREATE EXTENSION IF NOT EXISTS pg_trgm'] };
    const r = SuggestionsResponse.parse({ suggestions: [gin] }).suggestions[0];
    expect(r.benefit_source).toBe('model');
    expect(r.prerequisites).toEqual(['CREATE EXTENSION IF NOT EXISTS pg_trgm']);
    // An older engine's answer has neither: not costed, nothing first.
    const old = SuggestionsResponse.parse(fixture('suggestions.json')).suggestions[0];
    expect(old.benefit_source).toBe('');
    expect(old.prerequisites).toEqual([]);
  });

  it('keeps sandbox results and speed-ups on recommendations', () => {
    const r = SuggestionsResponse.parse(fixture('suggestions.json'));
    const tested = r.suggestions.find((s) => s.sandbox);
    expect(tested?.sandbox?.verdict).toMatch(/faster|no_gain|regression|safe/);
    expect(typeof tested?.estimated_speedup).toBe('number');
  });

  it("keeps an alert's plans, acknowledgement and silence", () => {
    const r = AlertsResponse.parse(fixture('alerts.json'));
    expect(r.firing[0]?.plan_after).toContain('Seq Scan on items');
    expect(r.firing[0]?.acknowledged_by).toMatch(/^api/);
    expect(r.firing[1]?.silenced_by).toBe(r.silences[0]?.id);
    // An engine before silences lists none.
    const { silences: _s, ...older } = fixture('alerts.json') as Record<string, unknown>;
    expect(AlertsResponse.parse(older).silences).toEqual([]);
    expect(AlertsResponse.safeParse({ ...older, firing: [{ id: 'x' }] }).success).toBe(false);
  });

  it('rejects a recommendation without its id', () => {
    const r = SuggestionsResponse.parse(fixture('suggestions.json'));
    const { id: _id, ...broken } = r.suggestions[0]!;
    expect(SuggestionsResponse.safeParse({ suggestions: [broken] }).success).toBe(false);
  });
});

describe('parseFrame', () => {
  it('accepts the control frames', () => {
    expect(parseFrame('{"type":"hello","topics":["metrics"]}')).toEqual({ type: 'hello', topics: ['metrics'] });
    expect(parseFrame('{"type":"subscribed","targets":[],"topics":[]}')?.type).toBe('subscribed');
    expect(parseFrame('{"type":"pong"}')?.type).toBe('pong');
    expect(parseFrame('{"type":"error","message":"bad"}')?.type).toBe('error');
  });
  it('accepts events of the known types', () => {
    const f = parseFrame('{"type":"metrics","target":"demo","ts":1,"payload":{"x":1}}');
    expect(f).toMatchObject({ type: 'metrics', target: 'demo', ts: 1 });
  });
  it('drops malformed or unknown frames', () => {
    expect(parseFrame('not json')).toBeNull();
    expect(parseFrame('[]')).toBeNull();
    expect(parseFrame('{"type":"metrics","target":"demo"}')).toBeNull();
    expect(parseFrame('{"type":"gossip","target":"demo","ts":1,"payload":null}')).toBeNull();
    expect(parseFrame('{"type":"metrics","target":5,"ts":1,"payload":null}')).toBeNull();
  });
});
