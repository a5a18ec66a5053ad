export { enableMetrics, type EnableMetricsOptions, type HealthReport, type MetricsHandle } from './enable-metrics.js';
export { serveMetrics, type MetricsServer, type ServeMetricsOptions } from './serve-metrics.js';
export { formatStatusLine, startStatusLine, type StatusLineOptions } from './status-line.js';
export type { PartitionState, PipelineSnapshot } from './pipeline-state.js';
