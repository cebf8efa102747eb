/**
 * The CORS headers of an answer to a browser on the web console's origin (AWS mode: the console
 * is served by CloudFront and calls API Gateway on another origin). Only that one origin is
 * allowed, and only when the request comes from it; API Gateway answers the preflights.
 *
 * @example corsHeaders('https://d111.cloudfront.net', { origin: 'https://d111.cloudfront.net' })
 * // { 'access-control-allow-origin': 'https://d111.cloudfront.net', vary: 'Origin', 'access-control-expose-headers': 'x-request-id' }
 */
export function corsHeaders(
  allowed: string | undefined,
  headers: Readonly<Record<string, string | undefined>> | null,
): Record<string, string> {
  if (!allowed) return {};
  const origin = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'origin')?.[1];
  // Vary even when refused: a cache must not give this answer to the console's origin
  if (origin !== allowed) return { vary: 'Origin' };
  return { 'access-control-allow-origin': allowed, vary: 'Origin', 'access-control-expose-headers': 'x-request-id' };
}
