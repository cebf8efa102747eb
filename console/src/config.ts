/**
 * Where the console runs. On AWS, CloudFront serves `/config.json` beside the files
 * (lib/infra/console-hosting.ts writes it at deploy time); the local server answers
 * `{ mode: 'local' }`. Anything else (no file, not JSON) is the local mode.
 */

/** What the deployed `config.json` holds (ConsoleHosting.configJson). */
export interface AwsConfig {
  mode: 'aws';
  /** `https://<id>.execute-api.<region>.amazonaws.com/<stage>/` */
  apiUrl: string;
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  identityPoolId: string;
  /** `https://<prefix>.auth.<region>.amazoncognito.com`: the hosted sign-in page */
  cognitoDomain: string;
}

export type ConsoleConfig = { mode: 'local' } | AwsConfig;

const AWS_FIELDS = ['apiUrl', 'region', 'userPoolId', 'userPoolClientId', 'identityPoolId', 'cognitoDomain'] as const;

/** Reads `/config.json`; an AWS config missing a field is an error naming it (a broken deploy, not the local mode). */
export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/config.json', { cache: 'no-store', credentials: 'same-origin' });
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || !type.includes('json')) return { mode: 'local' };
  const body = (await res.json()) as Record<string, unknown>;
  if (body.mode !== 'aws') return { mode: 'local' };
  const missing = AWS_FIELDS.filter((f) => typeof body[f] !== 'string' || body[f] === '');
  if (missing.length) throw new Error(`config.json is missing ${missing.join(', ')}: redeploy the console`);
  const apiUrl = String(body.apiUrl);
  return { ...(body as unknown as AwsConfig), apiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` };
}
