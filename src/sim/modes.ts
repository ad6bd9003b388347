/** What the provider simulator can play (see src/sim/server.ts). */
export const SIM_MODES = [
  'samples',
  'generated',
  'slow',
  'error',
  'unavailable',
  'truncated',
  'malformed',
  'html',
  'empty',
  'drop',
] as const;
export type SimMode = (typeof SIM_MODES)[number];
