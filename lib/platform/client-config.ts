import { join, resolve } from 'node:path';

/** Files above this size are uploaded as resumable multipart uploads unless AEGIS_MULTIPART_THRESHOLD says otherwise. */
export const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;

/** What the CLI needs to reach an Aegis API: local server or API Gateway. */
export interface ClientConfig {
  url: string;
  token: string | undefined;
  dataDir: string;
  /** AEGIS_STATE_DIR: what the CLI remembers between runs (uploads in progress); default `<dataDir>/cli` */
  stateDir: string;
  /** AEGIS_MULTIPART_THRESHOLD: files larger than this many bytes are uploaded in resumable parts (default 64 MiB) */
  multipartThreshold: number;
  /** AEGIS_UPLOAD_CONCURRENCY as set: parts sent at once (checked, 1–16, where an upload is made) */
  uploadConcurrency: string | undefined;
  awsRegion: string | undefined;
  /** CONTAINER_DIGEST: the image a training run executes in (train --record, reproduce) */
  containerDigest: string | undefined;
  /** PROM_ENDPOINT: a Pushgateway the CLI pushes training metrics to */
  promEndpoint: string | undefined;
  /** AEGIS_SIGV4=true: sign every request for API Gateway (custom domains), not only execute-api URLs */
  sigv4: boolean;
  /** AEGIS_TLS_CLIENT_CERT / AEGIS_TLS_CLIENT_KEY / AEGIS_TLS_CA: the CLI's certificate for an mTLS server */
  tls: { cert: string; key: string; ca: string | undefined } | undefined;
}

export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '8080';
  const dataDir = resolve(env.AEGIS_DATA_DIR ?? '.aegis');
  const threshold = env.AEGIS_MULTIPART_THRESHOLD?.trim();
  return {
    url: env.AEGIS_URL?.trim() || `http://127.0.0.1:${port}`,
    token: env.AEGIS_TOKEN?.trim() || undefined,
    dataDir,
    stateDir: env.AEGIS_STATE_DIR?.trim() ? resolve(env.AEGIS_STATE_DIR.trim()) : join(dataDir, 'cli'),
    multipartThreshold: threshold && /^\d+$/.test(threshold) ? Number(threshold) : DEFAULT_MULTIPART_THRESHOLD,
    uploadConcurrency: env.AEGIS_UPLOAD_CONCURRENCY?.trim() || undefined,
    awsRegion: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    containerDigest: env.CONTAINER_DIGEST?.trim() || undefined,
    promEndpoint: env.PROM_ENDPOINT?.trim() || undefined,
    sigv4: env.AEGIS_SIGV4 === 'true' || env.AEGIS_SIGV4 === '1',
    tls:
      env.AEGIS_TLS_CLIENT_CERT && env.AEGIS_TLS_CLIENT_KEY
        ? {
            cert: resolve(env.AEGIS_TLS_CLIENT_CERT),
            key: resolve(env.AEGIS_TLS_CLIENT_KEY),
            ca: env.AEGIS_TLS_CA ? resolve(env.AEGIS_TLS_CA) : undefined,
          }
        : undefined,
  };
}
