import { startMoto, type Moto } from '../support/moto.js';
import { createMotoSecret, motoSecrets } from '../support/moto-secrets.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';

const REGION = 'eu-west-1';
const moto: Moto | undefined = await startMoto();

describeUnless(moto ? undefined : NO_MOTO, 'SecretsManagerSecrets (moto_server)', () => {
  afterAll(async () => {
    await moto?.stop();
  });

  it('reads a JSON secret by its ARN with a SigV4-signed GetSecretValue', async () => {
    const arn = await createMotoSecret(moto!.endpoint, REGION, {
      name: 'db-user',
      value: JSON.stringify({ username: 'u', password: 'p' }),
    });
    expect(arn).toMatch(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:db-user-/);
    expect(await motoSecrets(moto!.endpoint, REGION).json(arn)).toEqual({ username: 'u', password: 'p' });
  });

  it('refuses a secret that is not a JSON object without showing its value', async () => {
    const arn = await createMotoSecret(moto!.endpoint, REGION, { name: 'plain', value: 'hunter2-not-json' });
    const err = await motoSecrets(moto!.endpoint, REGION)
      .json(arn)
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`secret ${arn} is not a JSON object`);
  });

  it('names the ARN and the service error when the secret does not exist', async () => {
    const arn = `arn:aws:secretsmanager:${REGION}:123456789012:secret:absent-AbCdEf`;
    await expect(motoSecrets(moto!.endpoint, REGION).json(arn)).rejects.toThrow(
      `secret ${arn}: GetSecretValue failed (ResourceNotFoundException)`,
    );
  });
});
