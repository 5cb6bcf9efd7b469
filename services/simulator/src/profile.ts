/** The traffic profile and simulator options a parsed configuration describes. */
import type { SimulatorConfig } from './config.js';
import type { TrafficProfile } from './traffic.js';

export function profileOf(config: SimulatorConfig): TrafficProfile {
  return {
    endpoints: config.PULSE_SIM_ENDPOINTS,
    models: config.PULSE_SIM_MODELS,
    streamShare: config.PULSE_SIM_STREAM_SHARE,
    errorRate: config.PULSE_SIM_ERROR_RATE,
    cacheHitRate: config.PULSE_SIM_CACHE_HIT_RATE,
    latencyMs: config.PULSE_SIM_LATENCY_MS,
    ttftMs: config.PULSE_SIM_TTFT_MS,
    spread: config.PULSE_SIM_SPREAD,
    tokensPerSec: config.PULSE_SIM_TOKENS_PER_SEC,
    completionTokens: config.PULSE_SIM_COMPLETION_TOKENS,
  };
}
