'use client';
import { useTarget } from '@/lib/target';
import { useStatus } from '@/lib/hooks/useStatus';
import { MetricsCards } from '@/ui/overview/metrics-cards';
import { SystemStatus } from '@/ui/overview/system-status';
import { LatestRecommendations } from '@/ui/overview/latest-recommendations';
import { WorkloadPanels } from '@/ui/overview/workload-panels';

export default function OverviewPage() {
  const { target } = useTarget();
  const { data: status } = useStatus();
  return (
    <div className="space-y-3">
      <h1 className="sr-only">Overview</h1>
      <MetricsCards target={target} />
      {/* min-w-0: grid items default to their content's width, and a chart
          that measured itself wider would push the page past a phone's. */}
      <div className="grid grid-cols-1 gap-3 lg:grid-cols-3">
        <div className="grid min-w-0 grid-cols-1 gap-3 lg:col-span-2">
          <WorkloadPanels target={target} />
        </div>
        <div className="min-w-0 space-y-3">
          <SystemStatus status={status} />
          <LatestRecommendations target={target} />
        </div>
      </div>
    </div>
  );
}
