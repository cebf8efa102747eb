import { RDSData } from '@aws-sdk/client-rds-data';
import { DataApiDatabase } from '../../lib/platform/adapters/sql/data-api.js';
import { toIso } from '../../lib/platform/sql/schema.js';
import { startDataApiServer, type DataApiServer } from '../support/data-api-server.js';
import { createTestDatabase } from '../support/postgres.js';
import { databaseContract } from './database.contract.js';

/**
 * The third database adapter: DataApiDatabase (kysely-data-api over the AWS SDK's RDSData
 * client) against the Data API server in test/support, over a fresh database on the
 * PostgreSQL server. The migrations and the whole contract run for real through the Data API's
 * typed parameters, value formats, errors and transactions.
 */
const testDb = await createTestDatabase();
const server: DataApiServer | undefined = testDb ? await startDataApiServer({ pgUrl: testDb.url, statementTimeoutMs: 15_000 }) : undefined;
const databaseName = testDb ? decodeURIComponent(new URL(testDb.url).pathname.slice(1)) : '';

/** Every command the adapter sends, with its input. */
const sent: { command: string; input: Record<string, unknown> }[] = [];

function open(): DataApiDatabase {
  const client = new RDSData({
    endpoint: server!.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: args.input as unknown as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'capture' },
  );
  return new DataApiDatabase({
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:aegis',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
    database: databaseName,
    client,
  });
}

const skip = testDb ? undefined : 'no PostgreSQL server to put the Data API server on';

let opened = 0;
databaseContract(
  'Aurora through the RDS Data API (DataApiDatabase on the test Data API server)',
  async () => {
    opened++;
    return { database: open(), cleanup: async () => undefined };
  },
  skip ? { skip } : {},
);

(skip ? describe.skip : describe)('DataApiDatabase specifics', () => {
  let database: DataApiDatabase;
  beforeAll(() => {
    database = open();
  });
  afterAll(async () => {
    await database?.close();
    await server?.stop();
    await testDb?.drop();
  });

  it('runs against the cluster, secret and database it is configured with', async () => {
    expect(opened).toBe(1);
    const before = sent.length;
    await database.db.selectFrom('models').select('name').limit(1).execute();
    const stmt = sent.slice(before).find((s) => s.command === 'ExecuteStatementCommand')!;
    expect(stmt.input).toMatchObject({
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:aegis',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
      database: databaseName,
      includeResultMetadata: true,
    });
  });

  it('sends Dates as TIMESTAMP-hinted UTC strings and reads timestamptz back as the same instant', async () => {
    const at = new Date('2026-11-22T10:11:12.345Z');
    const name = `ts-${Date.now()}`;
    const before = sent.length;
    await database.db.insertInto('models').values({ name, latest_version: 3, created_by: 'ci', created_at: at }).execute();
    const insert = sent.slice(before).find((s) => s.command === 'ExecuteStatementCommand')!;
    expect(insert.input.parameters).toContainEqual(
      expect.objectContaining({ typeHint: 'TIMESTAMP', value: { stringValue: '2026-11-22 10:11:12.345' } }),
    );
    const row = await database.db
      .selectFrom('models')
      .selectAll()
      .where('name', '=', name)
      .where('created_at', '=', at)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ name, latest_version: 3, created_by: 'ci', created_at: expect.any(Date), team: null });
    expect(toIso(row.created_at)).toBe('2026-11-22T10:11:12.345Z');
  });

  it('reads now() (microseconds) back as a Date to the millisecond', async () => {
    const name = `now-${Date.now()}`;
    await database.db
      .insertInto('models')
      .values({ name, created_by: 'ci' } as never)
      .execute();
    const row = await database.db.selectFrom('models').select('created_at').where('name', '=', name).executeTakeFirstOrThrow();
    expect(row.created_at).toBeInstanceOf(Date);
    expect(Math.abs((row.created_at as Date).getTime() - Date.now())).toBeLessThan(60_000);
  });
});
