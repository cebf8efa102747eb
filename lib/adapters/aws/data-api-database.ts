import { RDSData } from '@aws-sdk/client-rds-data';
import { Kysely } from 'kysely';
import { DataApiDialect } from 'kysely-data-api';
import type { DB } from '../../db/schema.js';
import type { Database } from '../../ports.js';

export interface DataApiOptions {
  /** Aurora cluster ARN */
  resourceArn: string;
  /** Secrets Manager ARN of the database credentials */
  secretArn: string;
  database: string;
  client?: RDSData;
}

/** Aurora PostgreSQL Serverless v2 through the RDS Data API (no VPC, no connection pool). */
export class DataApiDatabase implements Database {
  readonly kind = 'data-api' as const;
  readonly db: Kysely<DB>;

  constructor(opts: DataApiOptions) {
    this.db = new Kysely<DB>({
      dialect: new DataApiDialect({
        mode: 'postgres',
        driver: { client: opts.client ?? new RDSData({}), database: opts.database, secretArn: opts.secretArn, resourceArn: opts.resourceArn },
      }),
    });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
