/**
 * Secrets Manager on moto_server, for the tests: creating secrets (the stack's, as a deploy
 * would) and reading them back through the Secrets adapter. moto takes the region from the
 * credential scope of the Authorization header and checks no signature.
 */
import { SecretsManagerSecrets } from '../../lib/platform/adapters/secrets/secrets-manager.js';

const credentials = async () => ({ accessKeyId: 'testing', secretAccessKey: 'testing' });

/** CreateSecret; returns the secret's ARN. */
export async function createMotoSecret(
  endpoint: string,
  region: string,
  secret: { name: string; value: string; kmsKeyId?: string; description?: string },
): Promise<string> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.CreateSecret',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/${region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
    },
    body: JSON.stringify({
      Name: secret.name,
      SecretString: secret.value,
      ...(secret.kmsKeyId && { KmsKeyId: secret.kmsKeyId }),
      ...(secret.description && { Description: secret.description }),
    }),
  });
  const reply = (await res.json()) as { ARN?: string };
  if (!res.ok || !reply.ARN) throw new Error(`CreateSecret ${secret.name} failed: HTTP ${res.status} ${JSON.stringify(reply)}`);
  return reply.ARN;
}

/** The adapter the migrate function reads secrets with, pointed at moto. */
export const motoSecrets = (endpoint: string, region: string) => new SecretsManagerSecrets({ region, endpoint, credentials });
