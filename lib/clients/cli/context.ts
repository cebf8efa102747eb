import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AegisClient } from '../http/client.js';
import { bytes } from '../http/format.js';
import { loadClientConfig, type ClientConfig } from '../../platform/client-config.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { LIMITS } from '../../kernel/manifest.js';
import type { Reporter } from '../training/record.js';
import type { MultipartUploads } from '../http/multipart-upload.js';
import { DEFAULT_UPLOAD_CONCURRENCY, MAX_UPLOAD_CONCURRENCY } from '../http/part-sender.js';

/** A failure the CLI reports as one line and an exit code (1 failed, 2 usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Globals {
  url?: string;
  token?: string;
  json: boolean;
  /** seconds per HTTP attempt */
  timeout: number;
  retries: number;
}

/** What every command needs: configuration, output, the API client, progress. */
export class CliContext {
  readonly cfg: ClientConfig = loadClientConfig();

  constructor(private readonly program: Command) {}

  get globals(): Globals {
    return this.program.opts<Globals>();
  }

  out(human: string, data: unknown): void {
    process.stdout.write(`${this.globals.json ? JSON.stringify(data, null, 2) : human}\n`);
  }

  /**
   * SigV4 for API Gateway (an execute-api URL, or any URL with AEGIS_SIGV4=true, e.g. the mTLS
   * custom domain, region from AWS_REGION); otherwise a bearer token (flag, AEGIS_TOKEN, then
   * the data folder's dev admin token). A configured client certificate is presented either way.
   */
  async client(): Promise<AegisClient> {
    const baseUrl = this.globals.url ?? this.cfg.url;
    const tls = this.cfg.tls && {
      cert: readFileSync(this.cfg.tls.cert, 'utf8'),
      key: readFileSync(this.cfg.tls.key, 'utf8'),
      ...(this.cfg.tls.ca ? { ca: readFileSync(this.cfg.tls.ca, 'utf8') } : {}),
    };
    const executeApi = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(baseUrl).hostname);
    const region = executeApi?.[1] ?? (this.cfg.sigv4 ? this.cfg.awsRegion : undefined);
    if (executeApi || this.cfg.sigv4) {
      if (!region) throw new CliError('AEGIS_SIGV4=true needs AWS_REGION for the signature', 2);
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      return new AegisClient({
        baseUrl,
        sigv4: { region, credentials: fromNodeProviderChain() },
        ...this.#limits(),
        ...(tls ? { tls } : {}),
      });
    }
    let token = this.globals.token ?? this.cfg.token;
    const tokenFile = join(this.cfg.dataDir, 'admin.token');
    if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
    return new AegisClient({ baseUrl, ...this.#limits(), ...(token ? { token } : {}), ...(tls ? { tls } : {}) });
  }

  #limits() {
    return { timeoutMs: this.globals.timeout * 1000, retries: this.globals.retries };
  }

  /**
   * How `aegis register` and the commands that register through it upload large files: in
   * resumable parts above AEGIS_MULTIPART_THRESHOLD, remembered under AEGIS_STATE_DIR.
   */
  multipart(reporter: Reporter, o: { threshold?: number; uploadId?: string | undefined } = {}): MultipartUploads {
    return {
      // a single PUT on S3 takes at most 5 GiB: larger files always go in parts
      threshold: Math.min(o.threshold ?? this.cfg.multipartThreshold, 5 * 1024 ** 3),
      stateDir: join(this.cfg.stateDir, 'uploads'),
      apiUrl: this.globals.url ?? this.cfg.url,
      uploadId: o.uploadId,
      concurrency: uploadConcurrency(this.cfg.uploadConcurrency),
      onStep: (m) => reporter.step(m),
    };
  }

  /** Progress on stderr: redrawn in place on a terminal, a line every ~2 s otherwise (CI logs). */
  reporter(): Reporter {
    const tty = process.stderr.isTTY;
    let last = 0;
    let open = false;
    const end = () => {
      if (open) process.stderr.write('\n');
      open = false;
    };
    return {
      step: (message) => {
        end();
        process.stderr.write(`aegis: ${message}\n`);
      },
      bytes: (label, done, total) => {
        const now = Date.now();
        if (done !== total && now - last < (tty ? 200 : 2000)) return;
        last = now;
        const line = `  ${label} ${total ? Math.floor((done / total) * 100) : 100}% (${bytes(done)} / ${bytes(total)})`;
        if (tty) {
          process.stderr.write(`\r${line}`);
          open = done !== total;
          if (!open) process.stderr.write('\n');
        } else process.stderr.write(`${line}\n`);
      },
    };
  }
}

/** AEGIS_UPLOAD_CONCURRENCY: how many parts of a multipart upload are in flight at once (1–16, default 4). */
function uploadConcurrency(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_UPLOAD_CONCURRENCY;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_UPLOAD_CONCURRENCY))
    throw new CliError(`AEGIS_UPLOAD_CONCURRENCY must be a whole number from 1 to ${MAX_UPLOAD_CONCURRENCY}, not ${raw}`, 2);
  return n;
}

export function readJsonFile(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let v: unknown;
  try {
    // strict: a signed or verified document must mean one thing (no duplicate keys), bounded nesting
    v = parseJsonStrict(text, { maxDepth: LIMITS.jsonDepth });
  } catch (e) {
    throw new CliError(`${what} ${path}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliError(`${what} ${path} is not a JSON object`);
  return v as Record<string, unknown>;
}
