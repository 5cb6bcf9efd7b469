export { otlpSettings, otlpVars, pushesExponential, type OtlpEnv, type OtlpProtocol, type OtlpSettings } from './config.js';
export { buildMetrics, COUNTERS, HISTOGRAMS, operationName, PROVIDER, seriesAttributes, type HistogramForm } from './metrics.js';
export { SCOPE, SnapshotMetricProducer, type ExportSource, type ExportState } from './producer.js';
export { OtlpPush, startOtlpPush, type OtlpPushStats } from './push.js';
