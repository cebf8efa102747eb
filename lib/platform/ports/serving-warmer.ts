/**
 * The warm-up port: before a blue-green switch moves any traffic, serving loads the green
 * artifact (verified like any serving load) and answers warm-up requests with it. Adapters:
 * the local serving service in-process (`modules/serving`), and on AWS the serving function
 * invoked with an internal warm-up event (`adapters/serving/lambda-warmer.ts`).
 */

/** What to warm: the deployment, the artifact, and how many requests must all succeed. */
export interface WarmUpRequest {
  modelName: string;
  env: string;
  artifactId: string;
  /** warm-up requests: replayed recent inputs of the deployment, else synthetic rows */
  requests: number;
}

/** How a warm-up went: `ok` only when the artifact loaded and every request was answered. */
export interface WarmUpResult {
  ok: boolean;
  /** requests answered without error */
  answered: number;
  /** requests sent */
  requests: number;
  /** where the inputs came from */
  inputs: 'replayed' | 'synthetic';
  /** the first failure, naming what failed (the load, or request n) */
  reason?: string;
}

export interface ServingWarmer {
  warmUp(w: WarmUpRequest): Promise<WarmUpResult>;
}
