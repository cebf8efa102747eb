import { RDSData } from '@aws-sdk/client-rds-data';
import { DataApiDatabase } from '../../lib/adapters/aws/data-api-database.js';
import { toIso } from '../../lib/db/schema.js';
import { startMoto, type Moto } from '../support/moto.js';

/**
 * moto's RDS Data API does not execute SQL, so the shared database contract cannot run on
 * it. What can be checked here is the adapter's half of the wire: the statement it sends
 * (cluster, secret, database, SQL, typed parameters, transaction ids) and how it reads the
 * Data API's records back into rows. (moto has no BeginTransaction, so transactions are
 * only exercised on PGlite and the PostgreSQL server.)
 */
let moto: Moto | undefined;
const sent: { command: string; input: any }[] = [];
let database: DataApiDatabase;

beforeAll(async () => {
  moto = await startMoto();
  if (!moto) return;
  const client = new RDSData({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: context.commandName as string, input: args.input });
      return next(args);
    },
    { step: 'initialize', name: 'capture' },
  );
  database = new DataApiDatabase({ resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:aegis', secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db', database: 'aegis', client });
});
afterAll(async () => {
  await database?.close();
  await moto?.stop();
});

describe('DataApiDatabase (RDS Data API via moto_server)', () => {
  it('sends typed parameters to the configured cluster and reads records back into rows', async () => {
    if (!moto) return console.warn('moto_server not available: Data API adapter not exercised');
    const res = await fetch(`${moto.endpoint}/moto-api/static/rds-data/statement-results`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        results: [
          {
            records: [[{ stringValue: 'fraud' }, { longValue: 7 }, { stringValue: 'ci' }, { stringValue: '2026-11-22 10:11:12.345' }]],
            columnMetadata: [
              { name: 'name', typeName: 'text' },
              { name: 'latest_version', typeName: 'int4' },
              { name: 'created_by', typeName: 'text' },
              { name: 'created_at', typeName: 'timestamptz' },
            ],
          },
        ],
      }),
    });
    expect(res.status).toBe(201);
    const since = new Date('2026-01-01T00:00:00.000Z');
    const rows = await database.db.selectFrom('models').selectAll().where('created_at', '>', since).where('latest_version', '>=', 1).execute();
    expect(rows).toEqual([{ name: 'fraud', latest_version: 7, created_by: 'ci', created_at: expect.any(Date) }]);
    expect(toIso(rows[0]!.created_at)).toBe('2026-11-22T10:11:12.345Z');

    const stmt = sent.find((s) => s.command === 'ExecuteStatementCommand')!;
    expect(stmt.input).toMatchObject({
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:aegis',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
      database: 'aegis',
      includeResultMetadata: true,
    });
    expect(stmt.input.sql).toMatch(/select \* from "models" where "created_at" > :0 and "latest_version" >= :1/);
    expect(stmt.input.parameters).toEqual([
      { name: '0', typeHint: 'TIMESTAMP', value: { stringValue: '2026-01-01 00:00:00.000' } },
      { name: '1', value: { longValue: 1 } },
    ]);
  });
});
