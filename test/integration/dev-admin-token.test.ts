/**
 * The dev admin token expires like every token; a local install must not lock its owner out.
 * A start that finds no usable admin token makes a new dev admin token in the data folder and
 * says why; one that finds other admin tokens leaves them be and says how to replace the
 * expired one on file. The data folder is reopened by each start; the clock is moved by hand.
 */
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../../lib/platform/composition/local-start.js';
import { startStack, type Stack } from '../support/local-stack.js';

class FrozenClock {
  #at = Date.now();
  now(): Date {
    return new Date(this.#at);
  }
  advance(ms: number): void {
    this.#at += ms;
  }
}

const DAY = 86_400_000;
const clock = new FrozenClock();
let dataDir: string;
let open: Stack | undefined;

const start = async () => (open = await startStack({}, { clock, dataDir }));
const onFile = async () => (await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim();
const models = (s: Stack, token: string) => s.api('GET', '/v1/registry/models', undefined, { token });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'aegis-dev-admin-'));
});
afterAll(async () => {
  await open?.stop();
});

describe('the dev admin token', () => {
  let first: string;
  let second: string;

  it('is made on first start, written to the data folder (0600), and lives 90 days', async () => {
    const s = await start();
    expect(s.newAdminToken).toBeDefined();
    expect(s.adminTokenNotice).toBeUndefined();
    first = s.newAdminToken!;
    expect(await onFile()).toBe(first);
    expect((await stat(join(dataDir, ADMIN_TOKEN_FILE))).mode & 0o777).toBe(0o600);
    const [dev] = (await s.api('GET', '/v1/tokens')).body.items;
    expect(dev).toMatchObject({ principal: 'dev-admin', role: 'admin', state: 'active' });
    expect(Date.parse(dev.expiresAt) - Date.parse(dev.createdAt)).toBe(90 * DAY);
    await s.close();
    open = undefined;
  });

  it('is made anew, saying why, by a start that finds no usable admin token; left be by one that finds another admin, which says how to replace it', async () => {
    clock.advance(91 * DAY);
    const s = await start();
    expect(s.newAdminToken).toBeDefined();
    second = s.newAdminToken!;
    expect(second).not.toBe(first);
    expect(await onFile()).toBe(second);
    expect(s.adminTokenNotice).toMatch(
      /^the dev admin token tok_[0-9a-f]{16} is expired and no other admin token is usable: made a new one$/,
    );
    expect((await models(s, first)).body.error).toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect((await models(s, second)).status).toBe(200);
    // a second admin, who outlives the new dev admin token
    const ops = await s.api('POST', '/v1/tokens', { principal: 'ops', role: 'admin', expiresIn: '365d' }, { token: second });
    expect(ops.status).toBe(201);
    await s.close();
    open = undefined;

    clock.advance(91 * DAY);
    const again = await start();
    // another admin token can still be used: nothing is made, the notice says how to replace the one on file
    expect(again.newAdminToken).toBeUndefined();
    expect(await onFile()).toBe(second);
    // newest first: the second dev admin token before the first
    const secondId = (await again.api('GET', '/v1/tokens', undefined, { token: ops.body.token })).body.items.find(
      (t: { principal: string }) => t.principal === 'dev-admin',
    );
    expect(secondId.state).toBe('expired');
    expect(again.adminTokenNotice).toContain(`(${secondId.tokenId}) expired at ${secondId.expiresAt}`);
    expect(again.adminTokenNotice).toContain(`aegis tokens rotate ${secondId.tokenId}`);
    const rotated = await again.api('POST', `/v1/tokens/${secondId.tokenId}/rotate`, {}, { token: ops.body.token });
    expect(rotated.status).toBe(201);
    expect((await models(again, rotated.body.token)).status).toBe(200);
    await writeFile(join(dataDir, ADMIN_TOKEN_FILE), `${rotated.body.token}\n`);
    expect((await again.api('POST', `/v1/tokens/${rotated.body.tokenId}/revoke`, undefined, { token: ops.body.token })).status).toBe(200);
    await again.close();
    open = undefined;

    // revoked rather than expired: it cannot be rotated, so the notice says to create one
    const last = await start();
    expect(last.newAdminToken).toBeUndefined();
    expect(last.adminTokenNotice).toContain(`(${rotated.body.tokenId}) was revoked at `);
    expect(last.adminTokenNotice).toContain('aegis tokens create --principal dev-admin --role admin');
  });
});
