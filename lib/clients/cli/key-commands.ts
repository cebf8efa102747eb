import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { KeyReply, KeysReply, KeysRotateReply } from '../../platform/http/schemas.js';
import { SIGNOFF_ROLES, signoffPurpose, type SignoffRole } from '../../kernel/signatures.js';
import { CliError, type CliContext } from './context.js';

/** keys: the signing key ring (list, export, rotate) and the approver and sign-off keys people hold (generate, add, revoke). */
export function keyCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('the signing key ring');
  keys
    .command('list')
    .description('public keys with validity windows')
    .action(async () => {
      const r = await (await ctx.client()).request<KeysReply>('GET', '/v1/keys');
      const state = (k: (typeof r.keys)[number]) =>
        k.revokedAt ? `REVOKED ${k.revokedAt}` : k.notAfter ? `retired ${k.notAfter}` : 'active';
      ctx.out(
        [
          `${r.keys.length} key(s)`,
          ...r.keys.map((k) => `  ${k.kid.padEnd(24)} ${k.purpose.padEnd(9)} ${k.alg.padEnd(18)} ${state(k)}  from ${k.notBefore}`),
        ].join('\n'),
        r,
      );
    });
  keys
    .command('export')
    .description('write the key ring (the GET /v1/keys reply) to a file to pin it: --trusted-keys of verify-folder, pull, verify-bundle')
    .requiredOption('--out <file>', 'where to write it, e.g. .aegis/trusted-keys.json (replaced when it exists)')
    .action(async (o: { out: string }) => {
      const r = await (await ctx.client()).request<KeysReply>('GET', '/v1/keys');
      await mkdir(dirname(resolve(o.out)), { recursive: true });
      // written beside, then renamed: a reader never sees half a ring
      const part = `${o.out}.${process.pid}.part`;
      await writeFile(part, `${JSON.stringify({ keys: r.keys }, null, 2)}\n`);
      await rename(part, o.out);
      ctx.out(`wrote ${r.keys.length} key(s) to ${o.out}: ${r.keys.map((k) => `${k.kid} (${k.purpose})`).join(', ')}`, {
        out: o.out,
        keys: r.keys,
      });
    });
  keys
    .command('rotate')
    .description('make a new key active; the old one keeps verifying what it signed (unless --revoke)')
    .addOption(new Option('--purpose <p>', 'which key').choices(['manifest', 'audit']).makeOptionMandatory())
    .option('--kms-key-id <id>', 'AWS mode: the new KMS key to adopt')
    .option('--revoke', 'also revoke the old key: its signatures stop verifying', false)
    .action(async (o: { purpose: string; kmsKeyId?: string; revoke: boolean }) => {
      const body = { purpose: o.purpose, revoke: o.revoke, ...(o.kmsKeyId ? { kmsKeyId: o.kmsKeyId } : {}) };
      const r = await (await ctx.client()).request<KeysRotateReply>('POST', '/v1/keys/rotate', body);
      ctx.out(
        `rotated ${o.purpose}: ${r.previous ? `${r.previous.kid} ${r.previous.revokedAt ? 'revoked' : 'retired'}` : 'no previous key'}, ${r.current.kid} active`,
        r,
      );
    });
  keys
    .command('generate')
    .description('make an approver or sign-off key pair on this machine: the private key stays here (mode 0600), enrol the public half')
    .requiredOption('--out <file>', 'private key file (PEM); the public key goes to <file>.pub')
    .action(async (o: { out: string }) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      await writeFile(o.out, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' }).catch(
        (e: NodeJS.ErrnoException) => {
          throw new CliError(e.code === 'EEXIST' ? `${o.out} exists: refusing to overwrite a key` : `cannot write ${o.out}: ${e.message}`);
        },
      );
      const pub = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      await writeFile(`${o.out}.pub`, `${pub}\n`, { flag: 'wx' });
      ctx.out(
        `private key ${o.out} (keep it here; never send it)\npublic key  ${o.out}.pub\n  ${pub}\nenrol it:   aegis keys add --role approver --kid <id> --owner <you> --public-key ${o.out}.pub`,
        { privateKeyFile: o.out, publicKeyFile: `${o.out}.pub`, publicKey: pub },
      );
    });
  keys
    .command('revoke')
    .description('revoke a key (admin): its signatures and approvals stop counting')
    .requiredOption('--kid <id>', 'key id')
    .action(async (o: { kid: string }) => {
      const r = await (await ctx.client()).request<KeyReply>('POST', `/v1/keys/${encodeURIComponent(o.kid)}/revoke`);
      ctx.out(`revoked ${r.kid} at ${r.revokedAt}`, r);
    });
  keys
    .command('add')
    .description('enrol a public key made with keys generate (admin): an approver, or a sign-off role (aegis signoff)')
    .addOption(new Option('--role <role>', 'key role').choices(['approver', ...SIGNOFF_ROLES]).makeOptionMandatory())
    .requiredOption('--kid <id>', 'key id')
    .requiredOption('--owner <principal>', 'who holds the private key (their own requests do not count)')
    .requiredOption('--public-key <file>', 'base64 DER public key (the .pub from keys generate)')
    .option('--not-after <iso>', 'expiry of the key')
    .action(async (o: { role: 'approver' | SignoffRole; kid: string; owner: string; publicKey: string; notAfter?: string }) => {
      const publicKey = (await readFile(o.publicKey, 'utf8')).trim();
      const r = await (
        await ctx.client()
      ).request<KeyReply>('POST', '/v1/keys', {
        kid: o.kid,
        purpose: o.role === 'approver' ? o.role : signoffPurpose(o.role),
        publicKey,
        owner: o.owner,
        ...(o.notAfter ? { notAfter: o.notAfter } : {}),
      });
      ctx.out(`enrolled ${o.role} key ${r.kid} for ${o.owner}, valid from ${r.notBefore}`, r);
    });
}
