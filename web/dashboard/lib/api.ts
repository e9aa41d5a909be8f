// Data access, next-learn style: one function per endpoint, each validating
// the answer with its zod schema. Errors carry the engine's message, which
// already says what to do ("start the engine with --api-token …").
import type { z } from 'zod';
import { API_BASE } from './config';
import { getToken } from './token';
import {
  AdviceReport,
  Alert,
  AlertsResponse,
  ApiErrorBody,
  AuditResponse,
  DatabaseHistory,
  HotResponse,
  PlanResponse,
  RawResponse,
  Recommendation,
  Silence,
  StatementHistory,
  Status,
  SuggestionsResponse,
  SummaryResponse,
  TargetsResponse,
} from './schemas';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  /** The engine refused for lack of (or a wrong) token. */
  get needsToken(): boolean {
    return this.status === 401;
  }
}

async function request<T>(schema: z.ZodType<T>, path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(API_BASE + path, { cache: 'no-store', ...init });
  } catch {
    throw new ApiError(`The engine is unreachable (${path})`, 0, 'network');
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(`The engine answered ${res.status} with non-JSON for ${path}`, res.status, 'bad_json');
  }
  if (!res.ok) {
    const err = ApiErrorBody.safeParse(body);
    if (err.success) throw new ApiError(err.data.error.message, res.status, err.data.error.code);
    throw new ApiError(`${path} failed with HTTP ${res.status}`, res.status, 'http');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError(
      `Unexpected answer from ${path}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`,
      res.status,
      'schema',
    );
  }
  return parsed.data;
}

function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

// Every POST is JSON (the engine answers 415 otherwise) and carries the
// token when there is one (with a token set, the engine refuses POSTs
// without it).
function post<T>(schema: z.ZodType<T>, path: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return request(schema, path, { method: 'POST', headers, body: JSON.stringify(body) });
}

export type Target = string | undefined;
export type HistoryRange = '1h' | '24h' | '7d';

export const api = {
  status: () => request(Status, '/api/status'),
  targets: () => request(TargetsResponse, '/api/targets'),
  summary: (target?: string) => request(SummaryResponse, `/api/metrics/summary${qs({ target })}`),
  hot: (o: { limit?: number; sort?: string; window?: 'interval' | 'cumulative'; target?: string }) =>
    request(HotResponse, `/api/metrics/hot${qs(o)}`),
  raw: (o: { limit?: number; offset?: number; target?: string }) =>
    request(RawResponse, `/api/metrics/raw${qs(o)}`),
  statementHistory: (fingerprint: string, range: HistoryRange, target?: string) =>
    request(StatementHistory, `/api/metrics/history${qs({ fingerprint, range, target })}`),
  databaseHistory: (range: HistoryRange, target?: string) =>
    request(DatabaseHistory, `/api/metrics/history${qs({ range, target })}`),
  /** The first 1,000 (the engine pages lists; a target has a few dozen). */
  suggestions: (target?: string) => request(SuggestionsResponse, `/api/suggestions/latest${qs({ target, limit: 1000 })}`),
  /** `target` lets any engine of a fleet answer: the one polling it does. */
  suggestion: (id: string, target?: string) =>
    request(Recommendation, `/api/suggestions/${encodeURIComponent(id)}${qs({ target })}`),
  plan: (fingerprint: string, target?: string) =>
    request(PlanResponse, `/api/analysis/plan${qs({ fingerprint, target })}`),
  audit: (limit = 50) => request(AuditResponse, `/api/audit${qs({ limit })}`),
  analyseQuery: (sql: string, target: string | undefined, llm: boolean) =>
    post(AdviceReport, '/api/analysis/query', target ? { sql, target, llm } : { sql, llm }),
  /** POST bodies are exactly {"id": …}: the engine runs only its own DDL.
   *  `target` sends the change to the engine of a fleet that polls it. */
  act: (action: 'apply' | 'rollback' | 'test' | 'dismiss', id: string, target?: string) =>
    post(Recommendation, `/api/suggestions/${action}${qs({ target })}`, { id }),
  alerts: (target?: string) => request(AlertsResponse, `/api/alerts${qs({ target })}`),
  ackAlert: (id: string) => post(Alert, '/api/alerts/ack', { id }),
  /** Silences the alerts its fields match (each narrows it) for `hours`. */
  silence: (s: { rule?: string; target?: string; fingerprint?: string; hours: number; comment?: string }) =>
    post(Silence, '/api/alerts/silence', s),
  unsilence: (id: string) => post(Silence, '/api/alerts/unsilence', { id }),
};
