/** The clock port: every timestamp the services write comes from here (tests pass a fake). */

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
