import { sql } from 'kysely';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.health, container, async (_req, c) => {
    let database: 'ok' | 'unreachable' = 'ok';
    try {
      await sql`select 1`.execute(c.database.db);
    } catch {
      database = 'unreachable';
    }
    return { status: database === 'ok' ? 200 : 503, body: { ok: database === 'ok', mode: c.mode, database, version: '0.1.0' } };
  });

export const handler = build(lambdaContainer);
