// Types mirror the engine's JSON (analysis/src/json.cpp, recommendation.cpp,
// web/src/api.cpp). Every response and WebSocket frame is parsed with these
// schemas before it reaches React, so a changed engine shows a clear error
// instead of `undefined` deep inside a component.
import { z } from 'zod';

export const Counters = z.object({
  calls: z.number(),
  total_time_ms: z.number(),
  mean_time_ms: z.number(),
  plan_time_ms: z.number(),
  rows: z.number(),
  shared_blks_hit: z.number(),
  shared_blks_read: z.number(),
  temp_blks_read: z.number(),
  temp_blks_written: z.number(),
  cache_hit_ratio: z.number(),
});
export type Counters = z.infer<typeof Counters>;

/** One statement; `interval` or `cumulative` holds the other window. */
export const Statement = Counters.extend({
  target: z.string().optional(),
  fingerprint: z.string(),
  queryids: z.array(z.string()),
  query: z.string(),
  parse_error: z.boolean(),
  share_of_total_time: z.number(),
  interval: Counters.optional(),
  cumulative: Counters.optional(),
});
export type Statement = z.infer<typeof Statement>;

export const RawResponse = z.object({
  total: z.number(),
  offset: z.number(),
  limit: z.number(),
  statements: z.array(Statement),
});
export type RawResponse = z.infer<typeof RawResponse>;

export const HotResponse = z.object({
  sort: z.string(),
  window: z.string(),
  limit: z.number(),
  polled: z.record(z.string(), z.number()),
  statements: z.array(Statement),
});
export type HotResponse = z.infer<typeof HotResponse>;

export const WorkloadSummary = z.object({
  statements: z.number(),
  cumulative: Counters,
  interval: Counters.extend({
    interval_ms: z.number(),
    calls_per_s: z.number(),
    time_per_s_ms: z.number(),
  }),
});

export const DatabaseMetrics = z.object({
  connections: z.number(),
  max_connections: z.number(),
  size_bytes: z.number(),
  cache_hit_ratio: z.number(),
  commits_per_s: z.number(),
  rollbacks_per_s: z.number(),
  xact_commit: z.number(),
  xact_rollback: z.number(),
  blks_hit: z.number(),
  blks_read: z.number(),
  temp_bytes: z.number(),
  deadlocks: z.number(),
});

export const TargetSummary = z.object({
  target: z.string(),
  polled: z.number(),
  interval_ms: z.number(),
  baseline: z.boolean(),
  reset_detected: z.boolean(),
  evicted: z.number(),
  hidden_rows: z.number(),
  summary: WorkloadSummary,
  database: DatabaseMetrics,
});
export type TargetSummary = z.infer<typeof TargetSummary>;

export const SummaryResponse = z.object({ targets: z.array(TargetSummary) });
export type SummaryResponse = z.infer<typeof SummaryResponse>;

/** The payload of a `metrics` event: one poll of one target. */
export const MetricsPayload = z.object({
  ts: z.number(),
  interval_ms: z.number(),
  baseline: z.boolean(),
  reset_detected: z.boolean(),
  evicted: z.number(),
  hidden_rows: z.number(),
  summary: WorkloadSummary,
  database: DatabaseMetrics,
  statements: z.array(Statement),
});
export type MetricsPayload = z.infer<typeof MetricsPayload>;

export const HistoryPoint = Counters.extend({ ts: z.number(), interval_ms: z.number() });
export type HistoryPoint = z.infer<typeof HistoryPoint>;

export const DatabasePoint = z.object({
  ts: z.number(),
  interval_ms: z.number(),
  calls: z.number(),
  total_time_ms: z.number(),
  xact_commit: z.number(),
  xact_rollback: z.number(),
  blks_hit: z.number(),
  blks_read: z.number(),
  cache_hit_ratio: z.number(),
  max_connections_used: z.number(),
});
export type DatabasePoint = z.infer<typeof DatabasePoint>;

export const StatementHistory = z.object({
  target: z.string(),
  fingerprint: z.string(),
  query: z.string().nullable(),
  from: z.number(),
  to: z.number(),
  resolution: z.string(),
  points: z.array(HistoryPoint),
});
export type StatementHistory = z.infer<typeof StatementHistory>;

export const DatabaseHistory = z.object({
  target: z.string(),
  fingerprint: z.null(),
  from: z.number(),
  to: z.number(),
  resolution: z.string(),
  points: z.array(DatabasePoint),
});
export type DatabaseHistory = z.infer<typeof DatabaseHistory>;

const ErrorObject = z.object({ code: z.string(), message: z.string() }).nullable();

export const TargetStatus = z.object({
  name: z.string(),
  dsn: z.string().optional(),
  state: z.string(),
  poll_interval_ms: z.number().optional(),
  last_poll: z.number().optional(),
  last_success: z.number().optional(),
  last_poll_duration_ms: z.number().optional(),
  polls: z.number().optional(),
  failures: z.number().optional(),
  statements: z.number().optional(),
  server_version: z.string().optional(),
  // In a fleet: another engine polls this target (owner), this one stands by.
  standby: z.boolean().optional(),
  owner: z.string().optional(),
  error: ErrorObject.optional(),
  warnings: z.array(z.string()).optional(),
  advice: z.array(z.string()).optional(),
});
export type TargetStatus = z.infer<typeof TargetStatus>;

export const LlmStatus = z.object({
  state: z.string(),
  message: z.string().optional(),
  model: z.string().optional(),
  calls: z.number().optional(),
  cache_hit_ratio: z.number().optional(),
  failures: z.number().optional(),
  mean_latency_ms: z.number().optional(),
  budget: z
    .object({
      day: z.string(),
      tokens: z.number(),
      tokens_limit: z.number(),
      usd: z.number(),
      usd_limit: z.number(),
    })
    .optional(),
});

export const Status = z.object({
  state: z.string(),
  version: z.string(),
  started: z.number(),
  uptime_ms: z.number(),
  targets: z.array(TargetStatus),
  nats: z
    .object({
      state: z.string(),
      connection: z.string().optional(),
      url: z.string().optional(),
      published: z.number().optional(),
      buffered: z.number().optional(),
      dropped: z.number().optional(),
    })
    .passthrough(),
  store: z
    .object({ state: z.string(), size_bytes: z.number().optional(), raw_points: z.number().optional() })
    .passthrough(),
  web: z
    .object({
      state: z.string(),
      ws_clients: z.number().optional(),
      requests: z.number().optional(),
      token: z.boolean().optional(),
      warnings: z.array(z.string()).optional(),
    })
    .passthrough()
    .optional(),
  llm: LlmStatus.optional(),
  advisors: z
    .array(
      z.object({
        target: z.string(),
        state: z.string(),
        last_run: z.number().optional(),
        last_elapsed_ms: z.number().optional(),
        actions: z.number().optional(),
        statements: z.number().optional(),
        error: ErrorObject.optional(),
      }),
    )
    .optional(),
  apply: z
    .object({ enabled: z.boolean(), message: z.string().optional() })
    .passthrough()
    .optional(),
  sandbox: z
    .array(
      z
        .object({
          state: z.string(),
          database: z.string().optional(),
          tests: z.number().optional(),
          last_verdict: z.string().optional(),
          error: ErrorObject.optional(),
        })
        .passthrough(),
    )
    .optional(),
  components: z
    .array(z.object({ name: z.string(), running: z.boolean(), restarts: z.number(), last_failure: z.string() }))
    .optional(),
});
export type Status = z.infer<typeof Status>;

export const TargetsResponse = z.object({ targets: z.array(z.string()) });

export const SandboxRun = z.object({
  fingerprint: z.string(),
  query: z.string(),
  median_before_ms: z.number(),
  median_after_ms: z.number(),
  uses_index: z.boolean().optional(),
  error: z.string().optional(),
  // Raw EXPLAIN (ANALYZE, FORMAT JSON) output: kept opaque, rendered by PlanTree.
  plan_before: z.unknown().optional(),
  plan_after: z.unknown().optional(),
});
export type SandboxRun = z.infer<typeof SandboxRun>;

export const Sandbox = z
  .object({
    verdict: z.string(),
    speedup: z.number().optional(),
    summary: z.string().optional(),
    runs: z.number().optional(),
    tested: z.number().optional(),
    duration_ms: z.number().optional(),
    served: z.array(SandboxRun).optional(),
    others: z.array(SandboxRun).optional(),
  })
  .passthrough();
export type Sandbox = z.infer<typeof Sandbox>;

export const Realised = z.object({
  verdict: z.string(),
  mean_before_ms: z.number(),
  mean_after_ms: z.number(),
  speedup: z.number(),
  calls_before: z.number(),
  calls_after: z.number(),
  polls_after: z.number(),
  measured: z.number(),
});
export type Realised = z.infer<typeof Realised>;

export const Recommendation = z.object({
  id: z.string(),
  kind: z.string(),
  target: z.string(),
  title: z.string(),
  schema: z.string(),
  table: z.string(),
  index_name: z.string(),
  columns: z.array(z.string()),
  include: z.array(z.string()),
  where: z.string(),
  using: z.string(),
  ddl: z.string(),
  rollback_ddl: z.string(),
  /** Steps the DDL needs first (CREATE EXTENSION …); apply refuses until a person has run them. */
  prerequisites: z.array(z.string()).default([]),
  statements: z.array(
    z.object({
      fingerprint: z.string(),
      query: z.string(),
      cost_before: z.number(),
      cost_after: z.number(),
      time_ms_per_day: z.number(),
    }),
  ),
  cost_before: z.number(),
  cost_after: z.number(),
  cost_improvement: z.number(),
  benefit_ms_per_day: z.number(),
  size_bytes: z.number(),
  write_overhead_ms_per_day: z.number(),
  /** Where the estimate comes from: hypopg (the planner), model (a cost model), measured (the sandbox), '' (not costed). */
  benefit_source: z.string().default(''),
  narrative: z.string(),
  narrative_source: z.string(),
  rewrite_sql: z.string(),
  verified: z.boolean(),
  verification: z.string(),
  confidence: z.number(),
  reasons: z.array(z.string()),
  evidence: z.array(z.string()),
  estimated_speedup: z.number(),
  measured_speedup: z.number(),
  sandbox: Sandbox.nullable(),
  applied: z.number(),
  realised: Realised.nullable(),
  last_error: z.string(),
  status: z.string(),
  created: z.number(),
  updated: z.number(),
});
export type Recommendation = z.infer<typeof Recommendation>;

export const SuggestionsResponse = z.object({
  suggestions: z.array(Recommendation),
  total: z.number().optional(),
  offset: z.number().optional(),
  limit: z.number().optional(),
});

/** A node of the engine's plan tree (analysis/src/plan.cpp). */
export type PlanNode = {
  id: number;
  node_type: string;
  relation?: string;
  alias?: string;
  index_name?: string;
  parent_relationship?: string;
  startup_cost?: number;
  total_cost?: number;
  plan_rows?: number;
  plan_width?: number;
  actual_rows?: number;
  actual_loops?: number;
  actual_total_time_ms?: number;
  rows_removed_by_filter?: number;
  filter?: string;
  index_cond?: string;
  hash_cond?: string;
  join_type?: string;
  sort_key?: string[];
  children: PlanNode[];
};
export const PlanNode: z.ZodType<PlanNode> = z.lazy(() =>
  z.object({
    id: z.number(),
    node_type: z.string(),
    relation: z.string().optional(),
    alias: z.string().optional(),
    index_name: z.string().optional(),
    parent_relationship: z.string().optional(),
    startup_cost: z.number().optional(),
    total_cost: z.number().optional(),
    plan_rows: z.number().optional(),
    plan_width: z.number().optional(),
    actual_rows: z.number().optional(),
    actual_loops: z.number().optional(),
    actual_total_time_ms: z.number().optional(),
    rows_removed_by_filter: z.number().optional(),
    filter: z.string().optional(),
    index_cond: z.string().optional(),
    hash_cond: z.string().optional(),
    join_type: z.string().optional(),
    sort_key: z.array(z.string()).optional(),
    children: z.array(PlanNode),
  }),
);

export const Plan = z.object({ total_cost: z.number(), root: PlanNode });
export type Plan = z.infer<typeof Plan>;

export const Finding = z.object({
  kind: z.string(),
  severity: z.string(),
  title: z.string(),
  evidence: z.string(),
  suggestion: z.string(),
  fingerprint: z.string().optional(),
  node_id: z.number().nullable().optional(),
  relation: z.string().optional(),
  columns: z.array(z.string()).optional(),
});
export type Finding = z.infer<typeof Finding>;

export const PlanResponse = z.object({
  target: z.string(),
  fingerprint: z.string(),
  query: z.string(),
  plan: Plan,
  findings: z.array(Finding),
});
export type PlanResponse = z.infer<typeof PlanResponse>;

export const AdviceReport = z.object({
  target: z.string(),
  actions: z.array(Recommendation),
  other: z.array(Recommendation),
  findings: z.array(Finding),
  skipped: z.array(z.object({ statement: z.string().optional(), reason: z.string().optional() }).passthrough()),
  statements: z.array(
    z
      .object({
        fingerprint: z.string(),
        query: z.string(),
        cost_before: z.number().optional(),
        cost_after: z.number().optional(),
        served_by: z.array(z.string()).optional(),
        plan_before: Plan.nullable().optional(),
        plan_after: Plan.nullable().optional(),
      })
      .passthrough(),
  ),
  warnings: z.array(z.string()),
  elapsed_ms: z.number().optional(),
});
export type AdviceReport = z.infer<typeof AdviceReport>;

export const AuditEntry = z.object({
  ts: z.number(),
  who: z.string(),
  action: z.string(),
  target: z.string(),
  recommendation_id: z.string(),
  kind: z.string(),
  ddl: z.string(),
  outcome: z.string(),
  duration_ms: z.number(),
  steps: z.array(z.string()),
  error: z.string(),
});
export const AuditResponse = z.object({
  entries: z.array(AuditEntry),
  total: z.number().optional(),
  // In a fleet: the fleet's log ("fleet"), or this engine's own with why the
  // fleet's could not be read.
  source: z.enum(['fleet', 'engine']).optional(),
  fleet_error: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const ApiErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

// -- WebSocket frames (web/src/server_websocket_session.cpp) ----------------

// -- alerts (GET /api/alerts; analysis/src/alerts.cpp's to_json)
export const Alert = z.object({
  id: z.string(),
  rule: z.string(),
  target: z.string(),
  fingerprint: z.string().optional(),
  query: z.string().optional(),
  severity: z.enum(['info', 'warning', 'critical']),
  state: z.enum(['firing', 'resolved']),
  since: z.number(),
  resolved: z.number().optional(),
  summary: z.string(),
  action: z.string(),
  evidence: z.record(z.string(), z.number()),
  plan_before: z.string().optional(),
  plan_after: z.string().optional(),
  acknowledged: z.number().optional(),
  acknowledged_by: z.string().optional(),
  silenced_by: z.string().optional(),
});
export type Alert = z.infer<typeof Alert>;

export const Silence = z.object({
  id: z.string(),
  rule: z.string().optional(),
  target: z.string().optional(),
  fingerprint: z.string().optional(),
  until: z.number(),
  created: z.number(),
  comment: z.string(),
  by: z.string(),
});
export type Silence = z.infer<typeof Silence>;

export const AlertsResponse = z.object({
  firing: z.array(Alert),
  resolved: z.array(Alert),
  silences: z.array(Silence).default([]),
});
export type AlertsResponse = z.infer<typeof AlertsResponse>;

export const EventType = z.enum(['metrics', 'status', 'recommendation', 'analysis', 'alert']);
export type EventType = z.infer<typeof EventType>;

export const EventFrame = z.object({
  type: EventType,
  target: z.string(),
  ts: z.number(),
  payload: z.unknown(),
});
export type EventFrame = z.infer<typeof EventFrame>;

export const ControlFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), topics: z.array(z.string()) }),
  z.object({ type: z.literal('subscribed'), targets: z.array(z.string()), topics: z.array(z.string()) }),
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('error'), message: z.string(), code: z.string().optional() }),
]);
export type ControlFrame = z.infer<typeof ControlFrame>;

export type Frame = EventFrame | ControlFrame;

/** Parses one WebSocket text frame; null for anything the engine would not send. */
export function parseFrame(text: string): Frame | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const ev = EventFrame.safeParse(data);
  if (ev.success) return ev.data;
  const ctl = ControlFrame.safeParse(data);
  return ctl.success ? ctl.data : null;
}
