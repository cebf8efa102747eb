import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from './services.js';
import { buildLocalContainer } from './local.js';
import { ConfigError, localServerRefusal, type Config } from '../config.js';
import { packageDir } from '../../kernel/package-dir.js';
import type { Container } from './container.js';
import { QUARANTINE_ENFORCEMENT_GRACE_MS } from './jobs.js';
import { HANDLER_BUILDERS } from '../../../lambdas/index.js';
import type { HandlerBuilder } from '../http/handler.js';
import { createLocalServer, listen } from '../http/local-server.js';
import { ConsoleSessions } from '../http/console-sessions.js';
import { LocalConsole } from '../http/local-console.js';
import type { RouteId } from '../http/routes.js';
import { startTracing } from '../tracing/otlp.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

export interface RunningLocal {
  url: string;
  container: Container;
  /** the dev admin token when this start created it (first start, or no usable admin token left) */
  newAdminToken: string | undefined;
  /** what the server says about the admin tokens as it starts (why it made a new one, or that the one on file no longer works) */
  adminTokenNotice: string | undefined;
  /** the web console's sessions: {@link consoleSignIn} makes one-time sign-in links */
  console: LocalConsole;
  close(): Promise<void>;
}

type StartOptions = Pick<BuildOptions, 'clock' | 'logger' | 'judge' | 'warmer' | 'waitMs' | 'timers'> & {
  /** the route handlers to serve (tests wrap them to check every reply) */
  handlers?: Record<RouteId, HandlerBuilder>;
  /** tests: how long spans wait in the batch before export (ms) */
  tracing?: { scheduledDelayMillis?: number };
};

/**
 * Starts the local mode: listens first (so upload URLs carry the real port), builds the
 * container (PGlite/pg, filesystem store, file keys), migrates, makes sure signing keys
 * exist, and on first start creates the dev admin token in the data folder (mode 0600).
 */
export async function startLocal(config: Config, opts: StartOptions = {}): Promise<RunningLocal> {
  const refusal = localServerRefusal(config);
  if (refusal) throw new ConfigError(refusal);
  // traces go to the OTLP collector when one is configured; the stop flushes what is batched
  const { tracing: tracingOpts, ...startOpts } = opts;
  const tracing = startTracing(config.otlpEndpoint, tracingOpts);
  const {
    server,
    url,
    container: c,
    console: webConsole,
  } = await listenThenBuild(config, startOpts).catch(async (e: unknown) => {
    await tracing.shutdown();
    throw e;
  });
  const { token: newAdminToken, notice: adminTokenNotice } = await devAdminToken(config, c);
  // Rollouts that were running when the server stopped resume from their persisted step.
  const resumed = await c.promotions.resumeUnfinished();
  if (resumed.length) c.logger.info('resumed unfinished rollouts', { promotions: resumed });
  // Registrations that were verifying when the server stopped are hashed and committed again.
  const registrations = await c.registry.resumeRegistrations();
  if (registrations.length) c.logger.info('resumed verifying registrations', { registrations });
  // Quarantines applied but never enforced (the process died after the commit) are enforced.
  const enforced = await c.quarantines.resumeEnforcement(QUARANTINE_ENFORCEMENT_GRACE_MS);
  if (enforced.length) c.logger.warn('enforced quarantines whose enforcement had not finished', { requests: enforced });
  // The scheduled jobs (audit archive and head checkpoint, pending promotion and upload expiry) run in this process
  // (EventBridge rules on AWS).
  c.scheduler.start();
  return {
    url,
    container: c,
    newAdminToken,
    adminTokenNotice,
    console: webConsole,
    close: () => stopLocal(server, c).finally(() => tracing.shutdown()),
  };
}

/**
 * A one-time console sign-in link for the dev admin token on file (the link `npm start` prints),
 * or undefined when the file holds no token that works.
 */
export async function consoleSignIn(config: Config, running: RunningLocal): Promise<string | undefined> {
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  if (!existsSync(file)) return undefined;
  const token = readFileSync(file, 'utf8').trim();
  if ((await running.container.tokens.describe(token))?.state !== 'active') return undefined;
  return `${running.url}/session/login?code=${running.console.sessions.issueLoginCode(token).code}`;
}

/** The built console: AEGIS_CONSOLE_DIR, or `dist/console` of the package this module belongs to. */
function consoleDir(config: Config): string {
  if (config.consoleDir) return config.consoleDir;
  return join(packageDir(dirname(fileURLToPath(import.meta.url))), 'dist', 'console');
}

/** Listens, then builds the container the routes wait for; a failed build stops the server. */
async function listenThenBuild(
  config: Config,
  opts: StartOptions,
): Promise<{ server: Server; url: string; container: Container; console: LocalConsole }> {
  const { handlers = HANDLER_BUILDERS, ...buildOpts } = opts;
  let ready: (c: Container) => void = () => undefined;
  let failed: (e: unknown) => void = () => undefined;
  const built = new Promise<Container>((res, rej) => {
    ready = res;
    failed = rej;
  });
  built.catch(() => undefined);
  const tls = config.tls && {
    cert: readFileSync(config.tls.cert),
    key: readFileSync(config.tls.key),
    clientCa: config.tls.clientCa ? readFileSync(config.tls.clientCa) : undefined,
  };
  const sessions = new ConsoleSessions({ resolve: async (token) => (await built).tokens.resolve(token) });
  const webConsole = new LocalConsole({ dir: consoleDir(config), sessions, secure: Boolean(tls) });
  const server = createLocalServer(handlers, () => built, tls, webConsole);
  const url = await listen(server, config.port, config.host);
  try {
    const container = await buildLocalContainer(config, {
      mode: 'local',
      publicUrl: config.publicUrl ?? url,
      bootstrap: true,
      ...buildOpts,
    });
    ready(container);
    return { server, url, container, console: webConsole };
  } catch (e) {
    failed(e);
    // A failed start stops serving at once, whatever is connected: without closing them, a
    // client's keep-alive connection keeps server.close() (and the process) waiting forever.
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    throw e;
  }
}

/**
 * The dev admin token: made on first start, and on any start that finds no usable (unrevoked,
 * unexpired) admin token, so a local install never locks out its owner — whoever starts the
 * server holds the data folder, database and keys anyway. When admin tokens are left but the
 * one on file no longer works, the notice says how to go on instead.
 */
async function devAdminToken(config: Config, c: Container): Promise<{ token?: string; notice?: string }> {
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  const onFile = existsSync(file) ? await c.tokens.describe(readFileSync(file, 'utf8').trim()) : undefined;
  if ((await c.tokens.usable('admin')) === 0) {
    const { token } = await c.tokens.create({ principal: 'dev-admin', role: 'admin' });
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const why = onFile ? `the dev admin token ${onFile.tokenId} is ${onFile.state} and no other admin token is usable: ` : '';
    return { token, ...(why ? { notice: `${why}made a new one` } : {}) };
  }
  if (onFile && onFile.state !== 'active') {
    // a revoked token cannot be rotated (409): only an expired one
    const [when, remedy] =
      onFile.state === 'expired'
        ? [`expired at ${onFile.expiresAt}`, `rotate it (aegis tokens rotate ${onFile.tokenId})`]
        : [`was revoked at ${onFile.revokedAt}`, 'create a new one (aegis tokens create --principal dev-admin --role admin)'];
    return {
      notice: `the dev admin token in ${file} (${onFile.tokenId}) ${when}; with another admin token, ${remedy} and put it in that file`,
    };
  }
  return {};
}

/** Stops the jobs and the rollouts this process runs, then the server; archives and checkpoints last. */
async function stopLocal(server: Server, c: Container): Promise<void> {
  const logged = (what: string) => (e: unknown) => c.logger.error(what, { error: (e as Error).message });
  await c.scheduler.stop();
  await c.workflows.stopAll?.();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await c.auditTrail.archive().catch(logged('audit archive failed'));
  // The last events are signed into the archive too: nothing written before a stop can
  // later be deleted from the database unnoticed.
  await c.auditTrail.checkpointHead().catch(logged('audit head checkpoint failed'));
  await c.close();
}
