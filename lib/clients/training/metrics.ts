import { Histogram, Pushgateway, Registry } from 'prom-client';

/** Training metrics of one CLI process; pushed to a Pushgateway when PROM_ENDPOINT is set. */
export const trainingRegistry = new Registry();

export const trainingDuration = new Histogram({
  name: 'ai_infra_training_job_duration_seconds',
  help: 'Wall time of a recorded training run (hashing, training, packing), by outcome',
  labelNames: ['model', 'outcome'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400],
  registers: [trainingRegistry],
});

/** Pushes the training metrics (batch jobs have no scrape endpoint). Failure is reported, not fatal. */
export async function pushTrainingMetrics(endpoint: string, model: string): Promise<string | undefined> {
  try {
    await new Pushgateway(endpoint, {}, trainingRegistry).pushAdd({ jobName: 'aegis_training', groupings: { model } });
    return undefined;
  } catch (e) {
    return `could not push metrics to ${endpoint}: ${(e as Error).message}`;
  }
}
