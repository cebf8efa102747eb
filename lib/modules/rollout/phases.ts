/**
 * The strategy phases of a rollout in words (shadow, blue-green warm-up and hold): what
 * `describeStage` (domain.ts) shows while a rollout is in one, or ended in one. Pure, and
 * typed structurally so domain.ts can use it without a cycle.
 */

interface PhasedState {
  phase?: 'shadow' | 'warming' | 'hold';
  percent: number;
  inconclusive: number;
  windowSeconds: number;
  stageStartedAt?: string;
  shadowPassed?: number;
  reason?: string;
}

interface PhasedConfig {
  shadow?: { percent: number; windows: number };
  blueGreen?: { holdSeconds: number };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The description of a phased rollout (undefined: no phase, the canary stages describe it). */
export function describePhase(state: PhasedState, c: PhasedConfig, status: string): string | undefined {
  const because = state.reason ? `: ${state.reason}` : '';
  switch (state.phase) {
    case 'shadow':
      return shadow(state, c, status, because);
    case 'warming':
      if (status === 'rolling_out') return 'warming up green';
      if (status === 'rolled_back')
        return state.reason?.startsWith('warm-up failed') ? state.reason : `rolled back before the switch${because}`;
      return `${status.replace('_', ' ')} while warming up green${because}`;
    case 'hold': {
      if (status === 'rolling_out') {
        const holdSeconds = c.blueGreen?.holdSeconds ?? state.windowSeconds;
        const until = state.stageStartedAt
          ? new Date(Date.parse(state.stageStartedAt) + holdSeconds * 1000).toISOString()
          : 'the hold ends';
        return `blue-green hold: green serves 100 %, blue routable until ${until}`;
      }
      if (status === 'succeeded') return 'switched; blue released';
      if (status === 'rolled_back') return `rolled back during the blue-green hold: blue serves again${because}`;
      return `${status.replace('_', ' ')} during the blue-green hold${because}`;
    }
    default:
      return undefined;
  }
}

function shadow(state: PhasedState, c: PhasedConfig, status: string, because: string): string {
  const windows = c.shadow?.windows ?? 1;
  const passed = state.shadowPassed ?? 0;
  switch (status) {
    case 'rolling_out': {
      const waiting =
        state.inconclusive > 0 ? ` (${plural(state.inconclusive, 'inconclusive window')}, waiting ${state.windowSeconds} s)` : '';
      return `shadow window ${Math.min(passed + 1, windows)} of ${windows} at ${c.shadow?.percent ?? 100} % mirrored${waiting}`;
    }
    case 'succeeded':
      return `promoted to 100 % after ${plural(passed, 'passing shadow window')}`;
    case 'rolled_back':
      return `discarded after shadow: ${(state.reason ?? 'rolled back').replace(/^shadow: /, '')}`;
    default:
      return `${status.replace('_', ' ')} during shadow${because}`;
  }
}
