import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemotePolicyEngine } from '../../lib/platform/adapters/policy/remote.js';
import type { PolicyDecision, PolicyInput } from '../../lib/kernel/policy.js';

const clock = { now: () => new Date('2026-11-22T10:00:00.000Z') };
const SHA = 'a'.repeat(64);

const input: PolicyInput = {
  artifact: {
    artifactId: '6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11',
    modelName: 'churn',
    version: '7',
    manifestSignatureValid: true,
    signerId: 'manifest-signer-v1',
    codeRef: 'git:abc123',
    datasets: [],
    metrics: { auc: 0.91 },
  },
  targetEnv: 'prod',
  requester: { id: 'alice', role: 'promoter' },
  production: null,
  riskTier: 'high',
  canaryPassedRequestsPerArm: 1000,
  canaryCompleted: true,
  servedBefore: false,
  evidenceProblems: [],
  action: 'promote',
};

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

describe('RemotePolicyEngine', () => {
  let server: Server;
  let url: string;
  let handler: Handler;
  const timers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => handler(req, body, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const reply =
    (status: number, body: string): Handler =>
    (_req, _body, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    };
  // Generous by default (a first fetch on a busy machine can take 100+ ms); the slow-server test sets 100 ms.
  const engine = (timeoutMs = 2000) => new RemotePolicyEngine({ url, timeoutMs, clock });

  it('posts the input as JSON to /v1/decide and passes a valid decision through', async () => {
    const seen: { method?: string; url?: string; type?: string; body?: unknown } = {};
    const decision = {
      decision: 'require_multisig',
      rules: ['high-risk-prod-multisig'],
      reasons: ['churn is high risk'],
      threshold: 3,
      approvers: 5,
      policySetSha256: SHA,
      evaluatedAt: '2026-11-22T09:59:59.000Z',
    };
    handler = (req, body, res) => {
      Object.assign(seen, { method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) });
      reply(200, JSON.stringify(decision))(req, body, res);
    };
    const d = await engine().decide(input);
    expect(seen).toEqual({ method: 'POST', url: '/v1/decide', type: 'application/json', body: input });
    expect(d).toEqual<PolicyDecision>({ ...(decision as Omit<PolicyDecision, 'engine'>), engine: 'remote' });
  });

  it('denies with sentinelnet-unavailable when the server is slower than the timeout', async () => {
    handler = (_req, _body, res) => {
      timers.add(
        setTimeout(() => res.writeHead(200).end(JSON.stringify({ decision: 'allow', rules: [], reasons: [], policySetSha256: SHA })), 1000),
      );
    };
    const started = Date.now();
    const d = await engine(100).decide(input);
    expect(Date.now() - started).toBeLessThan(900);
    expect(d).toMatchObject({
      decision: 'deny',
      rules: ['sentinelnet-unavailable'],
      engine: 'remote',
      policySetSha256: '',
      evaluatedAt: '2026-11-22T10:00:00.000Z',
    });
    expect(d.reasons[0]).toMatch(/did not answer within 100 ms/);
  });

  it('denies with sentinelnet-unavailable on HTTP 500', async () => {
    handler = reply(500, JSON.stringify({ decision: 'allow', rules: [], reasons: [], policySetSha256: SHA }));
    const d = await engine().decide(input);
    expect(d).toMatchObject({ decision: 'deny', rules: ['sentinelnet-unavailable'] });
    expect(d.reasons[0]).toMatch(/replied HTTP 500/);
  });

  it('denies with sentinelnet-unavailable on malformed JSON', async () => {
    handler = reply(200, '{"decision": "allow", ');
    const d = await engine().decide(input);
    expect(d).toMatchObject({ decision: 'deny', rules: ['sentinelnet-unavailable'] });
    expect(d.reasons[0]).toMatch(/malformed JSON/);
  });

  it('denies with sentinelnet-unavailable when the reply is not a well-formed decision', async () => {
    handler = reply(200, JSON.stringify({ decision: 'require_multisig', rules: ['x'], reasons: ['y'], policySetSha256: SHA }));
    expect((await engine().decide(input)).reasons[0]).toMatch(
      /invalid decision \(threshold: require_multisig needs threshold <= approvers\)/,
    );
    handler = reply(200, JSON.stringify({ decision: 'yes', rules: [], reasons: [], policySetSha256: SHA }));
    expect(await engine().decide(input)).toMatchObject({ decision: 'deny', rules: ['sentinelnet-unavailable'] });
    handler = reply(200, JSON.stringify({ decision: 'deny', rules: ['a', 'b'], reasons: ['only one'], policySetSha256: SHA }));
    expect((await engine().decide(input)).reasons[0]).toMatch(/do not pair up/);
  });

  it('denies with sentinelnet-unavailable when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const d = await new RemotePolicyEngine({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000, clock }).decide(input);
    expect(d).toMatchObject({ decision: 'deny', rules: ['sentinelnet-unavailable'] });
    expect(d.reasons[0]).toMatch(/unreachable \(ECONNREFUSED\)/);
  });
});
