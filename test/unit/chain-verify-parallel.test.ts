/**
 * The audit chain's signatures checked on every core (issue 25): `verifyRawMany` answers what
 * `verifyRaw` answers for each signature, and `verifyChainAsync` (and `verifyChainPaged`, in pages)
 * reports exactly what `verifyChain` reports, for intact runs and for every kind of tampering, wherever it sits.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { eventHash, eventStatement, verifyChain, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyChainAsync, verifyChainPaged } from '../../lib/kernel/chain-check.js';
import { verifyRaw, verifyRawMany, type KeyRecord, type RawSignature } from '../../lib/kernel/signatures.js';
import { auditKeyPair, signedChain } from '../support/audit-chain.js';

const ed = auditKeyPair('audit-ed');
const other = auditKeyPair('audit-other');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecRecord: KeyRecord = {
  ...ed.record,
  kid: 'audit-ec',
  alg: 'ecdsa-p256-sha256',
  publicKey: ec.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
};
const revoked: KeyRecord = { ...other.record, kid: 'audit-revoked', revokedAt: '2001-01-01T00:00:00.000Z' };
const ring = new Map([ed.record, ecRecord, revoked].map((k) => [k.kid, k]));
const keyOf = (kid: string) => ring.get(kid);

const flip = (b64: string, at: number) => {
  const bytes = Buffer.from(b64, 'base64');
  bytes[at % bytes.length]! ^= 0x01;
  return bytes.toString('base64');
};

describe('verifyRawMany', () => {
  it('answers what verifyRaw answers for each signature: Ed25519 and ECDSA, good, altered and malformed', async () => {
    const message = eventStatement(7, 'ab'.repeat(32));
    const good = sign(null, message, ed.privateKey).toString('base64');
    const goodEc = sign('sha256', message, ec.privateKey).toString('base64');
    const items: RawSignature[] = [
      { alg: 'ed25519', publicKey: ed.record.publicKey, message, signature: good },
      { alg: 'ed25519', publicKey: ed.record.publicKey, message, signature: flip(good, 5) },
      { alg: 'ed25519', publicKey: other.record.publicKey, message, signature: good },
      { alg: 'ed25519', publicKey: ed.record.publicKey, message: eventStatement(8, 'ab'.repeat(32)), signature: good },
      { alg: 'ed25519', publicKey: ed.record.publicKey, message, signature: good.slice(0, 20) },
      { alg: 'ed25519', publicKey: 'bm90IGEga2V5', message, signature: good },
      { alg: 'ed25519', publicKey: ecRecord.publicKey, message, signature: good },
      { alg: 'ecdsa-p256-sha256', publicKey: ecRecord.publicKey, message, signature: goodEc },
      { alg: 'ecdsa-p256-sha256', publicKey: ecRecord.publicKey, message, signature: flip(goodEc, 9) },
    ];
    const many = await verifyRawMany(items);
    expect(many).toEqual(items.map((x) => verifyRaw(x.alg, x.publicKey, x.message, x.signature)));
    expect(many).toEqual([true, false, false, false, false, false, false, true, false]);
  });
});

/** A chain of `n` events, signers chosen per event, each signed by its signer's key. */
function chain(signers: readonly ('ed' | 'ec' | 'unknown' | 'revoked')[]): AuditEvent[] {
  const events = signedChain(signers.length, {
    signerId: 'x',
    event: (seq) => ({
      eventId: `e-${seq}`,
      type: 'model.team.set',
      actor: 'a',
      subject: `model:m${seq}`,
      payload: { n: seq },
      ts: new Date(1e12 + seq).toISOString(),
    }),
  });
  // re-chained with each event's own signer (the signer is inside the hash)
  let prevHash = events[0]!.prevHash;
  return events.map((e, i) => {
    const signer = signers[i]!;
    const signerId = signer === 'ed' ? 'audit-ed' : signer === 'ec' ? 'audit-ec' : signer === 'revoked' ? 'audit-revoked' : 'audit-nobody';
    const u = { ...e, prevHash, signerId };
    const hash = eventHash(u);
    const statement = eventStatement(e.seq, hash);
    const signature = (signer === 'ec' ? sign('sha256', statement, ec.privateKey) : sign(null, statement, ed.privateKey)).toString(
      'base64',
    );
    prevHash = hash;
    return { ...u, hash, signature };
  });
}

/** `reorder`: two events swapped and renumbered, so only their links tell (events-reordered). */
type Tamper = 'none' | 'signature' | 'payload' | 'remove' | 'swap' | 'reorder' | 'relink';
function tamper(events: AuditEvent[], kind: Tamper, at: number): AuditEvent[] {
  const out = events.map((e) => ({ ...e }));
  const i = at % out.length;
  if (kind === 'signature') out[i]!.signature = flip(out[i]!.signature, at);
  if (kind === 'payload') out[i]!.payload = { n: -1 };
  if (kind === 'remove') out.splice(i, 1);
  if (kind === 'swap' && i + 1 < out.length) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  if (kind === 'reorder' && i + 1 < out.length) {
    [out[i], out[i + 1]] = [
      { ...out[i + 1]!, seq: out[i]!.seq },
      { ...out[i]!, seq: out[i + 1]!.seq },
    ];
  }
  if (kind === 'relink') out[i]!.prevHash = 'cd'.repeat(32);
  return out;
}

describe('verifyChainAsync', () => {
  it('reports what verifyChain reports, for any run and any tampering, whole or in pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<'ed' | 'ec' | 'unknown' | 'revoked'>('ed', 'ed', 'ed', 'ec', 'unknown', 'revoked'), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.constantFrom<Tamper>('none', 'signature', 'payload', 'remove', 'swap', 'reorder', 'relink'),
        fc.nat(),
        fc.integer({ min: 1, max: 8 }),
        async (signers, kind, at, pageSize) => {
          const events = tamper(chain(signers), kind, at);
          const expected = verifyChain(events, keyOf);
          expect(await verifyChainAsync(events, keyOf)).toEqual(expected);
          // in pages (the DR rebuild's whole archive): a tampering across a page boundary reports the same
          expect(await verifyChainPaged(events, keyOf, pageSize)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('names a signature altered in the middle of a long intact run, and passes the run intact', async () => {
    const events = chain(Array.from({ length: 500 }, () => 'ed' as const));
    expect(await verifyChainAsync(events, keyOf)).toMatchObject({ ok: true, checked: 500, headSeq: 500 });
    const altered = tamper(events, 'signature', 321);
    expect(await verifyChainAsync(altered, keyOf)).toMatchObject({
      ok: false,
      checked: 321,
      firstBreak: { seq: 322, problem: 'bad-signature' },
    });
  });
});
