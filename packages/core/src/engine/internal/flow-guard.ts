import type { FlowControl } from '../predict.js';

/** Resolved backpressure settings: the control and both water marks (records held). */
export interface FlowGuardConfig {
  readonly control: FlowControl;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
}

export interface FlowGuard {
  /** A record entered the operator. */
  received(): void;
  /** A result left the operator. */
  released(): void;
}

const NO_GUARD: FlowGuard = { received: () => {}, released: () => {} };

/**
 * Stage 6, flow guard (backpressure): pauses a pull-based source when the records held (entered,
 * not yet emitted, counted by the sequencer) reach the high-water mark and resumes it once they
 * fall to the low-water mark.
 */
export function createFlowGuard(config: FlowGuardConfig | undefined, held: () => number): FlowGuard {
  if (config === undefined) return NO_GUARD;
  const { control, highWaterMark, lowWaterMark } = config;
  let paused = false;
  return {
    received(): void {
      if (!paused && held() >= highWaterMark) {
        paused = true;
        control.pause();
      }
    },
    released(): void {
      if (paused && held() <= lowWaterMark) {
        paused = false;
        control.resume();
      }
    },
  };
}
