import type { APIGatewayProxyEvent } from 'aws-lambda';
import { IamAuthenticator, cognitoSubject } from '../../lib/platform/adapters/auth/iam.js';
import { corsHeaders } from '../../lib/platform/http/cors.js';

const POOL = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';
const SUB = '7b3c1f0e-2d4a-4e5b-9c6d-0123456789ab';
const GROUP_ROLE = 'arn:aws:iam::123456789012:role/aegis-prod-Console-GroupRolepromoter-1A2B3C';

/** An API Gateway event as IAM authorization gives it: the caller's ARN, and Cognito's provider for identity-pool credentials. */
function event(userArn: string, cognitoAuthenticationProvider: string | null): APIGatewayProxyEvent {
  return {
    requestContext: { identity: { userArn, cognitoAuthenticationProvider } },
  } as unknown as APIGatewayProxyEvent;
}

describe('IamAuthenticator', () => {
  const auth = new IamAuthenticator({ [GROUP_ROLE]: { role: 'promoter', scope: 'global' } });

  it('names a console user signed in through Cognito cognito:<sub>, with the role of their group role', async () => {
    const p = await auth.authenticate(
      event(
        'arn:aws:sts::123456789012:assumed-role/aegis-prod-Console-GroupRolepromoter-1A2B3C/CognitoIdentityCredentials',
        `${POOL},${POOL}:CognitoSignIn:${SUB}`,
      ),
    );
    expect(p).toEqual({ id: `cognito:${SUB}`, role: 'promoter', scope: 'global' });
  });

  it('names two users of the same group apart (the audit actor is the person, not the role)', async () => {
    const other = 'c0ffee00-0000-4000-8000-000000000001';
    const arn = 'arn:aws:sts::123456789012:assumed-role/aegis-prod-Console-GroupRolepromoter-1A2B3C/CognitoIdentityCredentials';
    const [a, b] = await Promise.all([
      auth.authenticate(event(arn, `${POOL},${POOL}:CognitoSignIn:${SUB}`)),
      auth.authenticate(event(arn, `${POOL},${POOL}:CognitoSignIn:${other}`)),
    ]);
    expect([a?.id, b?.id]).toEqual([`cognito:${SUB}`, `cognito:${other}`]);
  });

  it('keeps the role ARN as the id of any other IAM caller, and gives a Cognito user of an unmapped role no role', async () => {
    expect(
      (await auth.authenticate(event('arn:aws:sts::123456789012:assumed-role/aegis-prod-Console-GroupRolepromoter-1A2B3C/ci', null)))?.id,
    ).toBe(GROUP_ROLE);
    const unmapped = await auth.authenticate(
      event('arn:aws:sts::123456789012:assumed-role/Other/CognitoIdentityCredentials', `${POOL},${POOL}:CognitoSignIn:${SUB}`),
    );
    expect(unmapped).toEqual({ id: `cognito:${SUB}`, role: 'none', scope: { prefixes: [], teams: [] } });
  });

  it('reads only a CognitoSignIn subject from the provider string', () => {
    expect(cognitoSubject(`${POOL},${POOL}:CognitoSignIn:${SUB.toUpperCase()}`)).toBe(SUB);
    expect(cognitoSubject(`${POOL},${POOL}:CognitoSignIn:not-a-sub`)).toBeUndefined();
    expect(cognitoSubject('graph.facebook.com')).toBeUndefined();
    expect(cognitoSubject(null)).toBeUndefined();
  });
});

describe('corsHeaders', () => {
  const origin = 'https://d111abcdef8.cloudfront.net';
  it('allows the console origin only, and varies on Origin', () => {
    expect(corsHeaders(origin, { Origin: origin })).toEqual({
      'access-control-allow-origin': origin,
      vary: 'Origin',
      'access-control-expose-headers': 'x-request-id',
    });
    expect(corsHeaders(origin, { origin: 'https://evil.example.com' })).toEqual({ vary: 'Origin' });
    expect(corsHeaders(origin, null)).toEqual({ vary: 'Origin' });
    expect(corsHeaders(undefined, { origin })).toEqual({});
  });
});
