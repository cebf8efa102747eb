/**
 * What an upgrade must keep, read through the HTTP API of a running server: artifacts,
 * promotions, where each artifact serves, the key ring and the audit chain's head. The upgrade
 * fixture (scripts/make-upgrade-fixture.ts) records it from the old release; the upgrade test
 * (test/integration/upgrade.test.ts) reads it again from the current one and compares.
 */
import type { Api } from './dr-drill-steps.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loose JSON replies, checked field by field
type Json = any;

export interface RegistrySnapshot {
  artifacts: { artifactId: string; modelName: string; version: number; sha256: string; manifestSha256: string; signerId: string }[];
  promotions: {
    promotionId: string;
    kind: string;
    artifactId: string;
    modelName: string;
    targetEnv: string;
    status: string;
    approvals: string[];
    verdicts: string[];
  }[];
  deployments: { artifactId: string; env: string; role: string; percent: number }[];
  keys: { kid: string; purpose: string; publicKey: string; revoked: boolean; notAfter: string | null }[];
  audit: { events: number; headSeq: number; headHash: string; archivedThrough: number | null; types: Record<string, number> };
}

async function ok(api: Api, method: string, path: string): Promise<Json> {
  const r = await api(method, path);
  if (r.status !== 200) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Every audit event in chain order (paged). */
export async function auditEvents(api: Api): Promise<{ seq: number; type: string; hash: string; prevHash: string }[]> {
  const events: Json[] = [];
  for (let cursor: string | null = null; ;) {
    const page: Json = await ok(api, 'GET', `/v1/audit?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    events.push(...(page.items as Json[]));
    cursor = page.nextCursor;
    if (!cursor) return events;
  }
}

/** Reads the registry's state through its API; throws when its own audit chain does not verify. */
export async function registrySnapshot(api: Api): Promise<RegistrySnapshot> {
  const artifacts: RegistrySnapshot['artifacts'] = [];
  for (const m of (await ok(api, 'GET', '/v1/registry/models?limit=100')).items as Json[]) {
    const name = m.name as string;
    for (const v of (await ok(api, 'GET', `/v1/registry/models/${encodeURIComponent(name)}/versions?limit=100`)).items as Json[]) {
      const a = await ok(api, 'GET', `/v1/artifacts/${v.artifactId}`);
      artifacts.push({
        artifactId: v.artifactId,
        modelName: name,
        version: v.version,
        sha256: a.sha256,
        manifestSha256: a.manifestSha256,
        signerId: a.signature?.signerId,
      });
    }
  }
  artifacts.sort((x, y) => (x.modelName === y.modelName ? x.version - y.version : x.modelName < y.modelName ? -1 : 1));
  const promotions: RegistrySnapshot['promotions'] = [];
  const deployments: RegistrySnapshot['deployments'] = [];
  for (const a of artifacts) {
    for (const p of (await ok(api, 'GET', `/v1/artifacts/${a.artifactId}/promotions`)).items as Json[]) {
      const full = await ok(api, 'GET', `/v1/promotions/${p.promotionId}`);
      promotions.push({
        promotionId: p.promotionId,
        kind: p.kind,
        artifactId: p.artifactId,
        modelName: p.modelName,
        targetEnv: p.targetEnv,
        status: p.status,
        approvals: ((p.approvals ?? []) as Json[]).map((x) => x.approverId as string).sort(),
        verdicts: ((full.verdicts ?? []) as Json[]).map((v) => v.verdict as string),
      });
    }
    for (const d of ((await ok(api, 'GET', `/v1/lineage/${a.artifactId}`)).deployments ?? []) as Json[])
      deployments.push({ artifactId: a.artifactId, env: d.env, role: d.role, percent: d.percent });
  }
  promotions.sort((x, y) => (x.promotionId < y.promotionId ? -1 : 1));
  const events = await auditEvents(api);
  const verify = await ok(api, 'GET', '/v1/audit/verify');
  if (!verify.ok) throw new Error(`the audit chain does not verify: ${JSON.stringify(verify)}`);
  const last = events.at(-1)!;
  const types: Record<string, number> = {};
  for (const e of events) types[e.type] = (types[e.type] ?? 0) + 1;
  const keys = (await ok(api, 'GET', '/v1/keys')).keys as Json[];
  return {
    artifacts,
    promotions,
    deployments,
    keys: keys
      .map((k) => ({ kid: k.kid, purpose: k.purpose, publicKey: k.publicKey, revoked: Boolean(k.revokedAt), notAfter: k.notAfter ?? null }))
      .sort((x, y) => (x.kid < y.kid ? -1 : 1)),
    audit: { events: events.length, headSeq: last.seq, headHash: last.hash, archivedThrough: verify.archivedThrough, types },
  };
}
