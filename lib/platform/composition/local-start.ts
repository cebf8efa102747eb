import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildOptions } from './services.js';
import { buildLocalContainer } from './local.js';
import { ConfigError, localServerRefusal, type Config } from '../config.js';
import type { Container } from './container.js';
import { HANDLER_BUILDERS } from '../../../lambdas/index.js';
import type { HandlerBuilder } from '../http/handler.js';
import { createLocalServer, listen } from '../http/local-server.js';
import type { RouteId } from '../http/routes.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

export interface RunningLocal {
  url: string;
  container: Container;
  /** the dev admin token when this start created it (first start only) */
  newAdminToken: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the local mode: listens first (so upload URLs carry the real port), builds the
 * container (PGlite/pg, filesystem store, file keys), migrates, makes sure signing keys
 * exist, and on first start creates the dev admin token in the data folder (mode 0600).
 */
export async function startLocal(
  config: Config,
  opts: Pick<BuildOptions, 'clock' | 'logger' | 'judge' | 'waitMs' | 'timers'> & {
    /** the route handlers to serve (tests wrap them to check every reply) */
    handlers?: Record<RouteId, HandlerBuilder>;
  } = {},
): Promise<RunningLocal> {
  const { handlers = HANDLER_BUILDERS, ...buildOpts } = opts;
  let container: Container | undefined;
  let ready: (c: Container) => void = () => undefined;
  let failed: (e: unknown) => void = () => undefined;
  const containerPromise = new Promise<Container>((res, rej) => {
    ready = res;
    failed = rej;
  });
  containerPromise.catch(() => undefined);
  const refusal = localServerRefusal(config);
  if (refusal) throw new ConfigError(refusal);
  const tls = config.tls && {
    cert: readFileSync(config.tls.cert),
    key: readFileSync(config.tls.key),
    clientCa: config.tls.clientCa ? readFileSync(config.tls.clientCa) : undefined,
  };
  const server = createLocalServer(handlers, () => containerPromise, tls);
  const url = await listen(server, config.port, config.host);
  try {
    container = await buildLocalContainer(config, { mode: 'local', publicUrl: config.publicUrl ?? url, bootstrap: true, ...buildOpts });
    ready(container);
  } catch (e) {
    failed(e);
    // A failed start stops serving at once, whatever is connected: without closing them, a
    // client's keep-alive connection keeps server.close() (and the process) waiting forever.
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    throw e;
  }
  let newAdminToken: string | undefined;
  if ((await container.tokens.count()) === 0) {
    const { token } = await container.tokens.create('dev-admin', 'admin');
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(config.dataDir, ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
    newAdminToken = token;
  }
  const c = container;
  // Rollouts that were running when the server stopped resume from their persisted step.
  const resumed = await c.promotions.resumeUnfinished();
  if (resumed.length) c.logger.info('resumed unfinished rollouts', { promotions: resumed });
  // The scheduled jobs (audit archive and head checkpoint, pending promotion and upload expiry) run in this process
  // (EventBridge rules on AWS).
  c.scheduler.start();
  const archive = () =>
    c.auditTrail.archive().catch((e: unknown) => c.logger.error('audit archive failed', { error: (e as Error).message }));
  const checkpoint = () =>
    c.auditTrail.checkpointHead().catch((e: unknown) => c.logger.error('audit head checkpoint failed', { error: (e as Error).message }));
  return {
    url,
    container: c,
    newAdminToken,
    async close() {
      await c.scheduler.stop();
      await (c.workflows as { stopAll?: () => Promise<void> }).stopAll?.();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await archive();
      // The last events are signed into the archive too: nothing written before a stop can
      // later be deleted from the database unnoticed.
      await checkpoint();
      await c.close();
    },
  };
}
