import { ROUTES } from '../../lib/platform/http/routes.js';
import { assertReply, replyProblem, routeOf } from '../support/replies.js';

/** The reply check every integration test runs through (test/support/replies.ts) catches what it must. */
const token = {
  token: 't',
  tokenId: 'tok_0123456789abcdef',
  principal: 'ci',
  role: 'publisher',
  scope: 'global',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-04-01T00:00:00.000Z',
};
const dataset = {
  id: 'tx',
  version: '1',
  checksum: `sha256:${'a'.repeat(64)}`,
  uri: 'file:///data/tx',
  schema: null,
  createdBy: 'ci',
  createdAt: '2026-01-01T00:00:00.000Z',
};

describe('reply check', () => {
  it('passes a reply its route describes exactly', () => {
    expect(replyProblem(ROUTES.tokensCreate, 201, token)).toBeUndefined();
    expect(replyProblem(ROUTES.datasetsCreate, 200, { ...dataset, replayed: true })).toBeUndefined();
  });

  it('refuses a reply with a field its schema does not name', () => {
    expect(replyProblem(ROUTES.datasetGet, 200, { ...dataset, replayed: false })).toMatch(
      /\.replayed: the schema does not name this field/,
    );
  });

  it('refuses a reply missing a field its schema requires', () => {
    const { createdBy: _gone, ...partial } = dataset;
    expect(replyProblem(ROUTES.datasetGet, 200, partial)).toMatch(/createdBy/);
  });

  it('refuses a success status the route does not list, and checks errors against ErrorBody', () => {
    expect(replyProblem(ROUTES.tokensCreate, 200, token)).toMatch(/status 200 is not one of its reply statuses \(201\)/);
    expect(replyProblem(ROUTES.tokensCreate, 400, { error: { code: 'X', message: 'm', requestId: 'r' } })).toBeUndefined();
    expect(replyProblem(ROUTES.tokensCreate, 400, { error: { code: 'X', message: 'm', requestId: 'r', extra: 1 } })).toMatch(/extra/);
  });

  it('finds the route of a call as the local server does: static segments first, deprecated aliases too', () => {
    expect(routeOf('GET', '/v1/registry/models')?.id).toBe('modelsList');
    expect(routeOf('GET', '/v1/registry/0f8fad5b-d9cb-469f-a165-70867728950e')?.id).toBe('artifactGet');
    expect(routeOf('POST', '/v1/keys/k1/revoke')?.id).toBe('keysRevoke');
    expect(routeOf('DELETE', '/v1/keys')).toBeUndefined();
    expect(() => assertReply('POST', '/v1/tokens?x=1', 201, { ...token, extra: true })).toThrow(
      /POST \/v1\/tokens\?x=1 \(route tokensCreate\) answered 201/,
    );
  });
});
