import { join } from 'node:path';
import { ConfigError, loadCheckedConfig, localServerRefusal } from '../lib/platform/config.js';
import { ADMIN_TOKEN_FILE, consoleSignIn, startLocal } from '../lib/platform/composition/local-start.js';

/**
 * Starts the local server and stays up until SIGINT/SIGTERM. Refuses unsafe configuration
 * with a one-line reason and exit code 2.
 */
export async function runServe(env: NodeJS.ProcessEnv): Promise<void> {
  let config;
  try {
    config = loadCheckedConfig(env);
    const refusal = localServerRefusal(config);
    if (refusal) throw new ConfigError(refusal);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`aegis: refusing to start: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const dev = config.devAllowEphemeral ? ' with DEV_ALLOW_EPHEMERAL=true (dev mode: local key files, not for production)' : '';
  process.stdout.write(`aegis: local mode${dev}; data in ${config.dataDir}\n`);
  let running;
  try {
    running = await startLocal(config);
  } catch (e) {
    // A failed start exits, whatever is connected: one line and exit 2 for a refusal (a
    // startup check), 1 for anything else.
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`aegis: ${e instanceof ConfigError ? 'refusing to start' : 'failed to start'}: ${message.split('\n')[0]}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  const db = config.database.kind === 'pglite' ? `PGlite (${config.database.dataDir})` : config.database.kind;
  process.stdout.write(
    `aegis: database ${db}; objects ${config.objectStore.kind === 'fs' ? config.objectStore.root : `s3://${config.objectStore.bucket}`}; signing ${config.signing.backend}\n`,
  );
  if (running.adminTokenNotice) process.stdout.write(`aegis: ${running.adminTokenNotice}\n`);
  if (running.newAdminToken) {
    process.stdout.write(
      `aegis: created the dev admin token (shown once; the CLI reads it from ${join(config.dataDir, ADMIN_TOKEN_FILE)}):\n  ${running.newAdminToken}\n`,
    );
  }
  process.stdout.write(`aegis: listening on ${running.url}  (try: npx aegis list)\n`);
  const signIn = await consoleSignIn(config, running);
  process.stdout.write(
    signIn
      ? `aegis: console at ${running.url}/ — sign in once with this link (valid 10 minutes; npx aegis console makes another):\n  ${signIn}\n`
      : `aegis: console at ${running.url}/ — sign in with a token, or a link from: npx aegis console\n`,
  );
  const stop = async (signal: string) => {
    process.stdout.write(`aegis: ${signal}, shutting down\n`);
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
