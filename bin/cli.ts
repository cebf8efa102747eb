/** The `aegis` CLI: talks to a local server (bearer token) or to API Gateway (SigV4). */
import { readFileSync, existsSync, createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { AegisClient, ApiError } from '../lib/client/client.js';
import { bytes, formatReport, type ReportLike } from '../lib/client/format.js';
import { loadClientConfig } from '../lib/config.js';
import { hashStream } from '../lib/hashing.js';
import { verifyManifest } from '../lib/core/verification.js';

const cfg = loadClientConfig();

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

function readJsonFile(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`${what} ${path} is not a JSON object: ${(e as Error).message}`);
  }
}

async function client(opts: { url?: string; token?: string }): Promise<AegisClient> {
  const baseUrl = opts.url ?? cfg.url;
  const host = new URL(baseUrl).hostname;
  const aws = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  if (aws) {
    const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
    return new AegisClient({ baseUrl, sigv4: { region: aws[1]!, credentials: fromNodeProviderChain() } });
  }
  let token = opts.token ?? cfg.token;
  const tokenFile = join(cfg.dataDir, 'admin.token');
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
  return new AegisClient({ baseUrl, ...(token ? { token } : {}) });
}

function progressPrinter(label: string) {
  let last = 0;
  const tty = process.stderr.isTTY;
  return (sent: number, total: number) => {
    const now = Date.now();
    if (sent !== total && now - last < 500) return;
    last = now;
    const pct = total ? Math.floor((sent / total) * 100) : 100;
    const line = `${label} ${pct}% (${bytes(sent)} / ${bytes(total)})`;
    process.stderr.write(tty ? `\r${line}${sent === total ? '\n' : ''}` : `${line}\n`);
  };
}

const program = new Command('aegis')
  .description('Aegis model registry: register, verify and inspect signed model artifacts')
  .addOption(new Option('--url <url>', 'API base URL (local server or API Gateway stage URL)').default(undefined, `AEGIS_URL or ${cfg.url}`))
  .addOption(new Option('--token <token>', 'bearer token (local mode); default AEGIS_TOKEN, then <data dir>/admin.token'))
  .option('--json', 'machine-readable output', false)
  .showHelpAfterError();

const globals = () => program.opts<{ url?: string; token?: string; json: boolean }>();
const out = (human: string, data: unknown) => process.stdout.write(`${globals().json ? JSON.stringify(data, null, 2) : human}\n`);

program
  .command('serve')
  .description('run the local server (same handlers as the Lambdas); honours PORT, AEGIS_DATA_DIR, …')
  .action(async () => {
    const { runServe } = await import('./serve.js');
    await runServe(process.env);
    await new Promise(() => undefined);
  });

program
  .command('register')
  .description('upload an artifact and register it with its training manifest')
  .requiredOption('--model <name>', 'model name')
  .requiredOption('--artifact <file>', 'artifact file')
  .requiredOption('--manifest <file>', 'training manifest JSON (artifactSha256/artifactSize/createdAt are filled in when absent)')
  .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first result')
  .action(async (o: { model: string; artifact: string; manifest: string; idempotencyKey?: string }) => {
    const manifest = readJsonFile(o.manifest, 'manifest');
    let size: number;
    try {
      size = (await stat(o.artifact)).size;
    } catch (e) {
      throw new CliError(`cannot read artifact ${o.artifact}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (manifest.modelName !== undefined && manifest.modelName !== o.model) throw new CliError(`--model ${o.model} differs from manifest.modelName ${String(manifest.modelName)}`);
    const hashed = await hashStream(createReadStream(o.artifact, { highWaterMark: 1024 * 1024 }));
    if (manifest.artifactSha256 !== undefined && manifest.artifactSha256 !== hashed.sha256) {
      throw new CliError(`artifact sha256 ${hashed.sha256} differs from manifest.artifactSha256 ${String(manifest.artifactSha256)}`);
    }
    const full = { ...manifest, modelName: o.model, artifactSha256: hashed.sha256, artifactSize: size, createdAt: manifest.createdAt ?? new Date().toISOString() };
    const api = await client(globals());
    const upload = await api.request<{ uploadId: string; url: string; headers: Record<string, string> }>('POST', '/v1/registry/uploads', { modelName: o.model, size });
    await api.uploadFile(upload.url, upload.headers, o.artifact, size > 8 * 1024 * 1024 ? progressPrinter('uploading') : undefined);
    const res = await api.request<{ artifactId: string; version: number; manifestSignatureId: string; signerId: string; replayed: boolean }>(
      'POST',
      '/v1/registry/register',
      { uploadId: upload.uploadId, manifest: full },
      o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
    );
    out(
      `${res.replayed ? 'already registered' : 'registered'} ${o.model} v${res.version}\n  artifactId          ${res.artifactId}\n  manifestSignatureId ${res.manifestSignatureId}\n  signerId            ${res.signerId}`,
      res,
    );
  });

program
  .command('get <artifactId>')
  .description('show an artifact record with its manifest and signature')
  .action(async (id: string) => {
    const r = await (await client(globals())).request<{ modelName: string; version: number; sha256: string; size: number; signature: { signerId: string }; createdAt: string; createdBy: string; manifest: { codeRef: string } }>('GET', `/v1/registry/${encodeURIComponent(id)}`);
    out(`${r.modelName} v${r.version}  ${bytes(r.size)}\n  sha256   ${r.sha256}\n  codeRef  ${r.manifest.codeRef}\n  signer   ${r.signature.signerId}\n  created  ${r.createdAt} by ${r.createdBy}`, r);
  });

program
  .command('list')
  .description('list models, or the versions of one model')
  .option('--model <name>', 'list the versions of this model')
  .option('--limit <n>', 'page size', '50')
  .option('--cursor <c>', 'nextCursor of the previous page')
  .action(async (o: { model?: string; limit: string; cursor?: string }) => {
    const api = await client(globals());
    const q = new URLSearchParams({ limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
    if (o.model) {
      const r = await api.request<{ items: { version: number; artifactId: string; sha256: string; createdAt: string }[]; nextCursor: string | null }>('GET', `/v1/registry/models/${encodeURIComponent(o.model)}/versions?${q}`);
      const rows = r.items.map((v) => `  v${v.version}  ${v.artifactId}  ${v.sha256.slice(0, 12)}  ${v.createdAt}`);
      out([`${o.model}: ${r.items.length} version(s)`, ...rows, ...(r.nextCursor ? [`  more: --cursor ${r.nextCursor}`] : [])].join('\n'), r);
    } else {
      const r = await api.request<{ items: { name: string; latestVersion: number }[]; nextCursor: string | null }>('GET', `/v1/registry/models?${q}`);
      const rows = r.items.map((m) => `  ${m.name}  latest v${m.latestVersion}`);
      out([`${r.items.length} model(s)`, ...rows, ...(r.nextCursor ? [`  more: --cursor ${r.nextCursor}`] : [])].join('\n'), r);
    }
  });

program
  .command('verify-manifest')
  .description('verify a registered artifact (--artifact-id) or a manifest file (--manifest [--artifact FILE])')
  .option('--artifact-id <id>', 'verify the registered artifact: stored bytes, signature, signer, provenance')
  .option('--manifest <file>', 'a manifest JSON file to verify against the registry')
  .option('--signature <file>', 'a signature record JSON (default: the registered one)')
  .option('--artifact <file>', 'also check a local artifact file against the manifest')
  .action(async (o: { artifactId?: string; manifest?: string; signature?: string; artifact?: string }) => {
    if (!o.artifactId === !o.manifest) throw new CliError('give exactly one of --artifact-id or --manifest', 2);
    const api = await client(globals());
    let report: ReportLike;
    if (o.artifactId) {
      report = await api.request<ReportLike>('GET', `/v1/registry/${encodeURIComponent(o.artifactId)}/validate`);
    } else {
      const manifest = readJsonFile(o.manifest!, 'manifest');
      const signature = o.signature ? readJsonFile(o.signature, 'signature') : undefined;
      report = await api.request<ReportLike>('POST', '/v1/registry/verify-manifest', { manifest, ...(signature ? { signature } : {}) });
      if (o.artifact) {
        const local = await hashStream(createReadStream(o.artifact, { highWaterMark: 1024 * 1024 }));
        const byteChecks = verifyManifest({ manifest, signature: undefined, key: undefined, bytes: local }).checks.filter((c) => c.check.startsWith('artifact-'));
        report.checks.unshift(...byteChecks);
        report.ok = report.ok && byteChecks.every((c) => c.ok);
      }
    }
    out(formatReport(report), report);
    if (!report.ok) process.exitCode = 1;
  });

const keys = program.command('keys').description('the signing key ring');
keys
  .command('list')
  .description('public keys with validity windows')
  .action(async () => {
    const r = await (await client(globals())).request<{ keys: { kid: string; purpose: string; alg: string; notBefore: string; notAfter: string | null; revokedAt: string | null }[] }>('GET', '/v1/keys');
    const rows = r.keys.map((k) => `  ${k.kid.padEnd(24)} ${k.purpose.padEnd(9)} ${k.alg.padEnd(18)} ${k.revokedAt ? `REVOKED ${k.revokedAt}` : k.notAfter ? `retired ${k.notAfter}` : 'active'}  from ${k.notBefore}`);
    out([`${r.keys.length} key(s)`, ...rows].join('\n'), r);
  });
keys
  .command('rotate')
  .description('make a new key active; the old one keeps verifying what it signed (unless --revoke)')
  .addOption(new Option('--purpose <p>', 'which key').choices(['manifest', 'audit']).makeOptionMandatory())
  .option('--kms-key-id <id>', 'AWS mode: the new KMS key to adopt')
  .option('--revoke', 'also revoke the old key: its signatures stop verifying', false)
  .action(async (o: { purpose: string; kmsKeyId?: string; revoke: boolean }) => {
    const r = await (await client(globals())).request<{ previous: { kid: string; revokedAt: string | null } | null; current: { kid: string } }>('POST', '/v1/keys/rotate', {
      purpose: o.purpose,
      revoke: o.revoke,
      ...(o.kmsKeyId ? { kmsKeyId: o.kmsKeyId } : {}),
    });
    out(`rotated ${o.purpose}: ${r.previous ? `${r.previous.kid} ${r.previous.revokedAt ? 'revoked' : 'retired'}` : 'no previous key'}, ${r.current.kid} active`, r);
  });

const tokens = program.command('tokens').description('local-mode bearer tokens');
tokens
  .command('create')
  .description('create a token for a principal and role (shown once)')
  .requiredOption('--principal <id>', 'who the token is for')
  .addOption(new Option('--role <role>', 'role').choices(['publisher', 'promoter', 'approver', 'operator', 'auditor', 'admin']).makeOptionMandatory())
  .action(async (o: { principal: string; role: string }) => {
    const r = await (await client(globals())).request<{ token: string }>('POST', '/v1/tokens', o);
    out(r.token, r);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ApiError) {
    process.stderr.write(`aegis: ${e.message}${e.field ? ` (field: ${e.field})` : ''} [${e.code}${e.status ? ` ${e.status}` : ''}]\n`);
    process.exit(e.status === 401 || e.status === 403 ? 3 : 1);
  }
  if (e instanceof CliError) {
    process.stderr.write(`aegis: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  throw e;
}
