'use client';
// Four small charts of one statement's history: calls, mean and total time, rows.
import { Line, LineChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatClock, formatCompact, formatMs } from '@/lib/format';
import type { HistoryPoint } from '@/lib/schemas';

const CHARTS: { key: keyof HistoryPoint; label: string; fmt: (v: number) => string; color: string }[] = [
  { key: 'calls', label: 'Calls', fmt: formatCompact, color: '#0284c7' },
  { key: 'mean_time_ms', label: 'Mean time', fmt: formatMs, color: '#d97706' },
  { key: 'total_time_ms', label: 'Total time', fmt: formatMs, color: '#dc2626' },
  { key: 'rows', label: 'Rows', fmt: formatCompact, color: '#16a34a' },
];

export default function HistoryCharts({ points, daily }: { points: HistoryPoint[]; daily: boolean }) {
  return (
    <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4" data-testid="history-charts">
      {CHARTS.map((c) => (
        <div key={c.key} className="panel p-2">
          <div className="muted mb-1 text-xs">{c.label} per poll</div>
          <div className="h-36">
            <ResponsiveContainer width="100%" height="100%">
              <LineChart data={points} margin={{ top: 4, right: 6, bottom: 0, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.1} />
                <XAxis dataKey="ts" tickFormatter={(t: number) => (daily ? new Date(t).toLocaleDateString() : formatClock(t))} tick={{ fontSize: 10 }} minTickGap={30} />
                <YAxis tickFormatter={(v: number) => c.fmt(v)} tick={{ fontSize: 10 }} width={52} />
                <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} formatter={(v) => [c.fmt(Number(v)), c.label]} contentStyle={{ fontSize: 12 }} />
                <Line type="monotone" dataKey={c.key} stroke={c.color} dot={false} isAnimationActive={false} strokeWidth={1.5} />
              </LineChart>
            </ResponsiveContainer>
          </div>
        </div>
      ))}
    </div>
  );
}
