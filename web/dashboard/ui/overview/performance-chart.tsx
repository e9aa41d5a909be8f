'use client';
// Stacked areas of the top statements' share of query time. Loaded lazily
// (recharts is the biggest dependency) so the cards paint first.
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatClock, formatPercent, oneLine } from '@/lib/format';
import type { ShareRow } from '@/lib/series';

export const PALETTE = ['#0284c7', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5'];

export default function PerformanceChart({
  rows,
  keys,
  labels,
  seconds = false,
}: {
  rows: ShareRow[];
  keys: string[];
  labels: Record<string, string>;
  seconds?: boolean;
}) {
  return (
    <div className="h-64 w-full" data-testid="performance-chart">
      <ResponsiveContainer width="100%" height="100%">
        <AreaChart data={rows} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.1} />
          <XAxis dataKey="ts" tickFormatter={(t: number) => formatClock(t, seconds)} tick={{ fontSize: 11 }} minTickGap={40} />
          <YAxis tickFormatter={(v: number) => `${Math.round(v * 100)}%`} tick={{ fontSize: 11 }} width={40} domain={[0, 1]} />
          <Tooltip
            labelFormatter={(t) => formatClock(Number(t), true)}
            formatter={(v, name) => [formatPercent(Number(v)), oneLine(labels[String(name)] ?? String(name)).slice(0, 60)]}
            contentStyle={{ fontSize: 12 }}
          />
          {keys.map((k, i) => (
            <Area
              key={k}
              type="monotone"
              dataKey={k}
              stackId="1"
              isAnimationActive={false}
              stroke={PALETTE[i % PALETTE.length]}
              fill={PALETTE[i % PALETTE.length]}
              fillOpacity={0.35}
            />
          ))}
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}
