/**
 * A small RDS Data API server over a PostgreSQL server, for tests: the REST-JSON protocol the
 * AWS SDK's `@aws-sdk/client-rds-data` speaks (POST /Execute, /BatchExecute, /BeginTransaction,
 * /CommitTransaction, /RollbackTransaction), with Aurora PostgreSQL's behaviour as the Data API
 * reference describes it for Serverless v2 and provisioned clusters:
 *
 * - named parameters (`:name`) typed as the Data API types them: stringValue is a VARCHAR unless
 *   a typeHint (DATE, TIME, TIMESTAMP, DECIMAL, JSON, UUID) says otherwise, longValue an int8,
 *   doubleValue a float8, booleanValue a boolean, blobValue a bytea, isNull untyped; array
 *   parameters are refused;
 * - records as typed fields (longValue, doubleValue, booleanValue, stringValue, blobValue,
 *   arrayValue, isNull), timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]` without a zone (timestamptz
 *   in UTC), `resultSetOptions`, `formatRecordsAs: 'JSON'`, JDBC-style column metadata;
 * - one statement per call ("Multistatements aren't supported");
 * - transactions on a dedicated connection each, rolled back after three idle minutes, and ended
 *   by an error in any of their calls ("Transaction has been aborted due to an error from a
 *   previous call");
 * - SQL errors as DatabaseErrorException carrying PostgreSQL's message the way Aurora formats
 *   it (`ERROR: ...\n  Detail: ...; SQLState: 23505`), the 45 s call timeout
 *   (StatementTimeoutException, `continueAfterTimeout`), the 1 MiB limit on data returned by the
 *   database, SigV4-signed requests only (credentials are not checked);
 * - with `secrets`, each call connects as the database user of the secret its `secretArn` names
 *   (`{ username, password }`, as Aurora's Data API reads it from Secrets Manager), so a
 *   function runs with that user's privileges; a secret that cannot be read or lacks either
 *   field is a BadRequestException. Without it every call connects as `pgUrl`'s user.
 *
 * Run standalone (for child processes that reach it through `AWS_ENDPOINT_URL_RDS_DATA`):
 *   node --import tsx test/support/data-api-server.ts --pg postgres://… [--port 0] [--host 127.0.0.1]
 *     [--statement-timeout-ms 45000] [--max-response-bytes 1048576] [--idle-transaction-ms 180000]
 * prints its endpoint on the first line of stdout and stops on SIGTERM/SIGINT.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

export interface DataApiServerOptions {
  /** PostgreSQL server; its database is used when a request names none. */
  pgUrl: string;
  /**
   * The secret a request's `secretArn` names, as its JSON value (a test reads it from the
   * Secrets Manager emulator). @default - every call connects as `pgUrl`'s user
   */
  secrets?: (secretArn: string) => Promise<unknown>;
  /**
   * The cluster's databases: the name a request gives → the PostgreSQL database it is (so a
   * test can give the template's `aegis` a fresh database per run). @default names as given
   */
  databases?: Record<string, string>;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Call timeout (the Data API's is 45 s): StatementTimeoutException after it. */
  statementTimeoutMs?: number;
  /** Data returned by the database per call (the Data API's limit is 1 MiB). */
  maxResponseBytes?: number;
  /** `formattedRecords` size limit (10 MB in the Data API). */
  maxFormattedRecordsBytes?: number;
  /** HTTP request size limit (4 MiB in the Data API). */
  maxRequestBytes?: number;
  /** A transaction no call used for this long is rolled back (three minutes in the Data API). */
  idleTransactionMs?: number;
  /** A transaction is rolled back this long after it began (24 hours in the Data API). */
  maxTransactionMs?: number;
}

export interface DataApiServer {
  /** `http://host:port`, for `endpoint` or `AWS_ENDPOINT_URL_RDS_DATA`. */
  endpoint: string;
  /** Rolls back open transactions, closes connections and the listener. */
  stop(): Promise<void>;
}

const DEFAULTS = {
  statementTimeoutMs: 45_000,
  maxResponseBytes: 1024 * 1024,
  maxFormattedRecordsBytes: 10 * 1000 * 1000,
  maxRequestBytes: 4 * 1024 * 1024,
  idleTransactionMs: 3 * 60_000,
  maxTransactionMs: 24 * 3_600_000,
};

// ------------------------------------------------------------------ errors

/** An error the Data API returns: `x-amzn-errortype` names it, the body carries `message`. */
class ApiError extends Error {
  constructor(
    readonly type: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
const badRequest = (message: string) => new ApiError('BadRequestException', 400, message);
const databaseError = (message: string) => new ApiError('DatabaseErrorException', 400, message);

/** PostgreSQL's error as Aurora's Data API words it (the JDBC server-error text plus the SQLState). */
function sqlError(e: unknown): ApiError {
  const err = e as pg.DatabaseError;
  if (typeof err?.code === 'string' && typeof err.severity === 'string') {
    let text = `${err.severity}: ${err.message}`;
    if (err.detail) text += `\n  Detail: ${err.detail}`;
    if (err.hint) text += `\n  Hint: ${err.hint}`;
    if (err.position) text += `\n  Position: ${err.position}`;
    if (err.where) text += `\n  Where: ${err.where}`;
    return databaseError(`${text}; SQLState: ${err.code}`);
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENOTFOUND') {
    return new ApiError('DatabaseUnavailableException', 504, '');
  }
  if (e instanceof ApiError) return e;
  return new ApiError('InternalServerErrorException', 500, (e as Error)?.message ?? String(e));
}

// ------------------------------------------------------------------ JSON with exact integers

/** A number written as-is into the JSON text (int8 values beyond 2^53 keep their digits). */
class RawNumber {
  constructor(readonly text: string) {}
}

function toJson(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof RawNumber) return v.text;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      // AWS JSON protocols carry non-finite doubles as strings
      return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
    case 'boolean':
      return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  }
  throw new Error(`cannot serialise ${typeof v}`);
}

// ------------------------------------------------------------------ SQL: named parameters

export interface CompiledSql {
  /** the SQL with `:name` replaced by `$n` */
  text: string;
  /** parameter names in `$n` order */
  names: string[];
  /** statements in the text (separated by `;` outside quotes and comments) */
  statements: number;
}

const IDENT_CHAR = /[A-Za-z0-9_$]/;
const NAME = /[A-Za-z0-9_]+/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;

/**
 * Replaces `:name` placeholders by `$n` (one number per distinct name), leaving string
 * literals, quoted identifiers, dollar-quoted bodies, comments and `::` casts alone, and
 * counts the statements.
 */
export function compileNamedParameters(sql: string): CompiledSql {
  const names: string[] = [];
  const index = new Map<string, number>();
  let out = '';
  let statements = 0;
  let content = false;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'") {
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !(i > 1 && IDENT_CHAR.test(sql[i - 2]!));
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j += 2;
          else {
            j++;
            break;
          }
        } else j++;
      }
      out += sql.slice(i, j);
      i = j;
      content = true;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') j += 2;
          else {
            j++;
            break;
          }
        } else j++;
      }
      out += sql.slice(i, j);
      i = j;
      content = true;
      continue;
    }
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const j = end < 0 ? n : end;
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === '$' && !(i > 0 && IDENT_CHAR.test(sql[i - 1]!))) {
      DOLLAR_TAG.lastIndex = i;
      const m = DOLLAR_TAG.exec(sql);
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        const j = end < 0 ? n : end + m[0].length;
        out += sql.slice(i, j);
        i = j;
        content = true;
        continue;
      }
    }
    if (c === ':') {
      if (next === ':') {
        out += '::';
        i += 2;
        content = true;
        continue;
      }
      NAME.lastIndex = i + 1;
      const m = NAME.exec(sql);
      if (m) {
        const name = m[0];
        let k = index.get(name);
        if (k === undefined) {
          names.push(name);
          k = names.length;
          index.set(name, k);
        }
        out += `$${k}`;
        i += 1 + name.length;
        content = true;
        continue;
      }
    }
    if (c === ';') {
      if (content) statements++;
      content = false;
      out += c;
      i++;
      continue;
    }
    if (!/\s/.test(c)) content = true;
    out += c;
    i++;
  }
  if (content) statements++;
  return { text: out, names, statements };
}

// ------------------------------------------------------------------ parameters

interface Field {
  isNull?: boolean;
  booleanValue?: boolean;
  longValue?: number | string;
  doubleValue?: number | string;
  stringValue?: string;
  blobValue?: string;
  arrayValue?: unknown;
}
interface SqlParameter {
  name?: string;
  value?: Field;
  typeHint?: string;
}

const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  float8: 701,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  numeric: 1700,
  json: 114,
  uuid: 2950,
};

const HINTS: Record<string, { oid: number; format?: RegExp; label: string }> = {
  DATE: { oid: OID.date, format: /^\d{4}-\d{2}-\d{2}$/, label: 'Date' },
  TIME: { oid: OID.time, format: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/, label: 'Time' },
  TIMESTAMP: { oid: OID.timestamp, format: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/, label: 'TimeStamp' },
  DECIMAL: { oid: OID.numeric, label: 'Decimal' },
  JSON: { oid: OID.json, label: 'Json' },
  UUID: { oid: OID.uuid, label: 'Uuid' },
};

/** One parameter as (type OID, wire value), typed the way the Data API types it. */
function bindParameter(p: SqlParameter): { oid: number; value: string | Buffer | null } {
  const v = p.value;
  if (!v || typeof v !== 'object') throw badRequest(`Parameter ${p.name ?? ''} has no value`);
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (keys.length !== 1) throw badRequest(`Parameter ${p.name ?? ''} must have exactly one value field`);
  if (p.typeHint !== undefined && v.stringValue === undefined)
    throw badRequest(`typeHint ${p.typeHint} applies to stringValue only (parameter ${p.name ?? ''})`);
  if (v.isNull !== undefined) return { oid: 0, value: null };
  if (v.booleanValue !== undefined) return { oid: OID.bool, value: v.booleanValue ? 'true' : 'false' };
  if (v.longValue !== undefined) return { oid: OID.int8, value: String(v.longValue) };
  if (v.doubleValue !== undefined) return { oid: OID.float8, value: String(v.doubleValue) };
  if (v.blobValue !== undefined) return { oid: OID.bytea, value: Buffer.from(v.blobValue, 'base64') };
  if (v.arrayValue !== undefined) throw badRequest('Array parameters are not supported');
  if (v.stringValue !== undefined) {
    if (p.typeHint === undefined) return { oid: OID.varchar, value: v.stringValue };
    const hint = HINTS[p.typeHint];
    if (!hint) throw badRequest(`Invalid typeHint ${p.typeHint}`);
    if (hint.format && !hint.format.test(v.stringValue))
      throw badRequest(`Parse Error for ${hint.label}: input contains invalid characters`);
    return { oid: hint.oid, value: v.stringValue };
  }
  throw badRequest(`Parameter ${p.name ?? ''} has an unknown value type ${keys[0]}`);
}

function bindParameters(compiled: CompiledSql, params: SqlParameter[] | undefined): { oids: number[]; values: (string | Buffer | null)[] } {
  const byName = new Map<string, SqlParameter>();
  for (const p of params ?? []) {
    if (typeof p?.name !== 'string') throw badRequest('Every parameter needs a name');
    byName.set(p.name, p);
  }
  const oids: number[] = [];
  const values: (string | Buffer | null)[] = [];
  for (const name of compiled.names) {
    const p = byName.get(name);
    if (!p) throw badRequest(`No value specified for parameter: ${name}`);
    const b = bindParameter(p);
    oids.push(b.oid);
    values.push(b.value);
  }
  return { oids, values };
}

// ------------------------------------------------------------------ PostgreSQL access

/** Every value as PostgreSQL's text output; parameter types given as OIDs. */
const rawTypes = { getTypeParser: () => (v: string) => v };

function query(
  client: pg.ClientBase,
  text: string,
  values: unknown[] = [],
  oids: number[] = [],
): Promise<pg.QueryArrayResult<(string | null)[]>> {
  // node-postgres sends `types` as the Parse message's parameter OIDs and asks it for result parsers
  const types = Object.assign([...oids], rawTypes);
  return client.query({ text, values, types, rowMode: 'array' } as unknown as pg.QueryArrayConfig);
}

interface TypeInfo {
  oid: number;
  typname: string;
  /** element type of an array type, else 0 */
  typelem: number;
}

interface ColumnAttr {
  relname: string;
  notNull: boolean;
  autoIncrement: boolean;
}

class Catalog {
  readonly types = new Map<number, TypeInfo>();

  async typeInfo(client: pg.ClientBase, oids: number[]): Promise<void> {
    const missing = [...new Set(oids)].filter((o) => !this.types.has(o));
    if (missing.length === 0) return;
    const r = await query(client, 'select oid::int8, typname::text, typelem::int8 from pg_catalog.pg_type where oid = any($1::oid[])', [
      missing,
    ]);
    for (const [oid, typname, typelem] of r.rows)
      this.types.set(Number(oid), { oid: Number(oid), typname: typname!, typelem: Number(typelem) });
    const elems = [...this.types.values()].filter((t) => t.typelem !== 0 && t.typname.startsWith('_')).map((t) => t.typelem);
    if (elems.some((o) => !this.types.has(o))) await this.typeInfo(client, elems);
  }

  type(oid: number): TypeInfo {
    return this.types.get(oid) ?? { oid, typname: 'unknown', typelem: 0 };
  }

  async columnAttrs(client: pg.ClientBase, fields: pg.FieldDef[]): Promise<Map<string, ColumnAttr>> {
    const keyed = fields.filter((f) => f.tableID !== 0 && f.columnID > 0);
    const attrs = new Map<string, ColumnAttr>();
    if (keyed.length === 0) return attrs;
    const r = await query(
      client,
      `select a.attrelid::int8, a.attnum::int8, c.relname::text, a.attnotnull,
              (a.attidentity <> '' or coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid) like '%nextval(%', false))
         from pg_catalog.pg_attribute a
         join unnest($1::oid[], $2::int2[]) as k(rel, num) on a.attrelid = k.rel and a.attnum = k.num
         join pg_catalog.pg_class c on c.oid = a.attrelid
         left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum`,
      [keyed.map((f) => f.tableID), keyed.map((f) => f.columnID)],
    );
    for (const [rel, num, relname, notNull, autoInc] of r.rows)
      attrs.set(`${rel}:${num}`, { relname: relname!, notNull: notNull === 't', autoIncrement: autoInc === 't' });
    return attrs;
  }
}

// ------------------------------------------------------------------ values out

const INTEGER = new Set(['int2', 'int4', 'int8', 'oid']);
const FLOAT = new Set(['float4', 'float8']);

interface ResultOptions {
  decimalReturnType?: string;
  longReturnType?: string;
}

/** `\x0102…` (bytea hex output) to bytes. */
const byteaBytes = (raw: string) => Buffer.from(raw.slice(2), 'hex');

/** timestamptz/timetz text in a UTC session ends in `+00`: the Data API returns UTC without a zone. */
function withoutZone(raw: string): string {
  return raw.replace(/[+-]\d{2}(:\d{2}){0,2}$/, '');
}

/** timetz in UTC, without a zone (the session zone does not apply to timetz). */
function timetzUtc(raw: string): string {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/.exec(raw);
  if (!m) return raw;
  const [, h, mi, s, frac = '', sign, oh, om = '0', os = '0'] = m;
  const offset = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * (sign === '+' ? 1 : -1);
  const t = (((Number(h) * 3600 + Number(mi) * 60 + Number(s) - offset) % 86400) + 86400) % 86400;
  const p2 = (x: number) => String(x).padStart(2, '0');
  return `${p2(Math.floor(t / 3600))}:${p2(Math.floor((t % 3600) / 60))}:${p2(t % 60)}${frac}`;
}

/** The string form of a scalar of this type as the Data API returns it. */
function scalarString(raw: string, typname: string): string {
  if (typname === 'timestamptz') return withoutZone(raw);
  if (typname === 'timetz') return timetzUtc(raw);
  return raw;
}

function floatValue(raw: string): number | RawNumber {
  if (raw === 'NaN') return NaN;
  if (raw === 'Infinity') return Infinity;
  if (raw === '-Infinity') return -Infinity;
  return new RawNumber(raw);
}

/** PostgreSQL array output (`{1,NULL,"a b"}`, possibly `[0:1]={…}`) as nested lists. */
export function parsePgArray(text: string): unknown[] {
  let s = text;
  if (s.startsWith('[')) s = s.slice(s.indexOf('=') + 1);
  let i = 0;
  const parse = (): unknown[] => {
    if (s[i] !== '{') throw new Error(`not an array: ${text}`);
    i++;
    const out: unknown[] = [];
    if (s[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      if (s[i] === '{') out.push(parse());
      else if (s[i] === '"') {
        i++;
        let v = '';
        while (s[i] !== '"') {
          if (s[i] === '\\') i++;
          v += s[i];
          i++;
        }
        i++;
        out.push(v);
      } else {
        let j = i;
        while (s[j] !== ',' && s[j] !== '}') j++;
        const v = s.slice(i, j);
        out.push(v.toUpperCase() === 'NULL' ? null : v);
        i = j;
      }
      if (s[i] === ',') i++;
      else if (s[i] === '}') {
        i++;
        return out;
      } else throw new Error(`malformed array: ${text}`);
    }
  };
  return parse();
}

class Encoder {
  bytes = 0;
  constructor(
    private readonly catalog: Catalog,
    private readonly opts: ResultOptions,
  ) {}

  /** A record field: exactly one of isNull, booleanValue, longValue, doubleValue, stringValue, blobValue, arrayValue. */
  field(raw: string | null, oid: number): Record<string, unknown> {
    if (raw === null) return { isNull: true };
    const t = this.catalog.type(oid);
    if (t.typelem !== 0 && t.typname.startsWith('_')) {
      this.bytes += Buffer.byteLength(raw);
      return { arrayValue: this.array(raw, this.catalog.type(t.typelem)) };
    }
    if (t.typname === 'bytea') {
      const bytes = byteaBytes(raw);
      this.bytes += bytes.length;
      return { blobValue: bytes.toString('base64') };
    }
    this.bytes += Buffer.byteLength(raw);
    if (t.typname === 'bool') return { booleanValue: raw === 't' };
    if (INTEGER.has(t.typname)) return this.opts.longReturnType === 'STRING' ? { stringValue: raw } : { longValue: new RawNumber(raw) };
    if (FLOAT.has(t.typname)) return { doubleValue: floatValue(raw) };
    if (t.typname === 'numeric' && this.opts.decimalReturnType === 'DOUBLE_OR_LONG') {
      return /^-?\d+$/.test(raw) ? { longValue: new RawNumber(raw) } : { doubleValue: floatValue(raw) };
    }
    return { stringValue: scalarString(raw, t.typname) };
  }

  private array(raw: string, elem: TypeInfo): Record<string, unknown[]> {
    const items = parsePgArray(raw);
    if (items.some((x) => Array.isArray(x)))
      throw new ApiError('UnsupportedResultException', 400, 'The result contains a multidimensional array, which is not supported');
    const list = items as (string | null)[];
    if (elem.typname === 'bool') return { booleanValues: list.map((x) => (x === null ? null : x === 't')) };
    if (INTEGER.has(elem.typname) && this.opts.longReturnType !== 'STRING')
      return { longValues: list.map((x) => (x === null ? null : new RawNumber(x))) };
    if (FLOAT.has(elem.typname)) return { doubleValues: list.map((x) => (x === null ? null : floatValue(x))) };
    return { stringValues: list.map((x) => (x === null ? null : scalarString(x, elem.typname))) };
  }

  /** A value inside `formattedRecords` (Data API JSON format). */
  json(raw: string | null, oid: number): unknown {
    if (raw === null) return null;
    const f = this.field(raw, oid);
    if ('booleanValue' in f) return f.booleanValue;
    if ('longValue' in f) return f.longValue;
    if ('doubleValue' in f) return f.doubleValue;
    if ('blobValue' in f) return f.blobValue;
    if ('arrayValue' in f) return Object.values(f.arrayValue as Record<string, unknown[]>)[0];
    return f.stringValue;
  }
}

// ------------------------------------------------------------------ column metadata (JDBC)

const JDBC_TYPE: Record<string, number> = {
  int2: 5,
  int4: 4,
  int8: -5,
  oid: -5,
  numeric: 2,
  float4: 7,
  float8: 8,
  money: 8,
  bool: -7,
  bit: -7,
  char: 1,
  bpchar: 1,
  varchar: 12,
  text: 12,
  name: 12,
  bytea: -2,
  date: 91,
  time: 92,
  timetz: 92,
  timestamp: 93,
  timestamptz: 93,
  xml: 2009,
  refcursor: 2012,
};
const UNKNOWN_LENGTH = 2147483647;
const NOT_CASE_SENSITIVE = new Set([
  'oid',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'bool',
  'bit',
  'varbit',
  'date',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'interval',
]);
const SIGNED = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric']);

function secondsDigits(typmod: number): number {
  return typmod === -1 ? 7 : typmod === 0 ? 0 : typmod + 1;
}

function precision(typname: string, typmod: number): number {
  switch (typname) {
    case 'int2':
      return 5;
    case 'int4':
    case 'oid':
      return 10;
    case 'int8':
      return 19;
    case 'float4':
      return 8;
    case 'float8':
      return 17;
    case 'numeric':
      return typmod === -1 ? 0 : ((typmod - 4) >> 16) & 0xffff;
    case 'bool':
    case 'char':
      return 1;
    case 'bpchar':
    case 'varchar':
      return typmod === -1 ? UNKNOWN_LENGTH : typmod - 4;
    case 'date':
      return 13;
    case 'time':
      return 8 + secondsDigits(typmod);
    case 'timetz':
      return 8 + secondsDigits(typmod) + 6;
    case 'timestamp':
      return 22 + secondsDigits(typmod);
    case 'timestamptz':
      return 22 + secondsDigits(typmod) + 6;
    default:
      return UNKNOWN_LENGTH;
  }
}

function scale(typname: string, typmod: number): number {
  switch (typname) {
    case 'float4':
      return 8;
    case 'float8':
      return 17;
    case 'numeric':
      return typmod === -1 ? 0 : (typmod - 4) & 0xffff;
    case 'time':
    case 'timetz':
    case 'timestamp':
    case 'timestamptz':
      return typmod === -1 ? 6 : typmod;
    default:
      return 0;
  }
}

function columnMetadata(f: pg.FieldDef, catalog: Catalog, attrs: Map<string, ColumnAttr>): Record<string, unknown> {
  const t = catalog.type(f.dataTypeID);
  const isArray = t.typelem !== 0 && t.typname.startsWith('_');
  const base = isArray ? catalog.type(t.typelem).typname : t.typname;
  const attr = attrs.get(`${f.tableID}:${f.columnID}`);
  return {
    name: f.name,
    type: isArray ? 2003 : (JDBC_TYPE[t.typname] ?? 1111),
    typeName: t.typname,
    label: f.name,
    schemaName: '',
    tableName: attr?.relname ?? '',
    isAutoIncrement: attr?.autoIncrement ?? false,
    isSigned: SIGNED.has(base),
    isCurrency: base === 'money',
    isCaseSensitive: !NOT_CASE_SENSITIVE.has(base),
    nullable: attr?.notNull ? 0 : 1,
    precision: precision(base, f.dataTypeModifier),
    scale: scale(base, f.dataTypeModifier),
    arrayBaseColumnType: isArray ? (JDBC_TYPE[base] ?? 1111) : 0,
  };
}

// ------------------------------------------------------------------ connections

/**
 * The connections calls outside a transaction run on. The Data API gives such calls no session
 * affinity (it runs them on pooled connections), so neither does this pool: it keeps at least
 * two sessions and hands out the least recently used one, so consecutive calls land on
 * different sessions and nothing may rely on session state (SET, temporary tables, session
 * advisory locks) carrying over from one call to the next.
 */
class SessionPool {
  private readonly idle: pg.Client[] = [];
  private readonly all = new Set<pg.Client>();
  private readonly waiters: ((c: pg.Client) => void)[] = [];
  private creating = 0;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly max = 10,
    private readonly min = 2,
  ) {}

  private async create(): Promise<pg.Client> {
    this.creating++;
    const c = new pg.Client(this.config);
    c.on('error', () => this.drop(c));
    try {
      await c.connect();
    } finally {
      this.creating--;
    }
    this.all.add(c);
    return c;
  }

  private drop(c: pg.Client): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    void c.end().catch(() => undefined);
  }

  async acquire(): Promise<pg.Client> {
    while (this.all.size + this.creating < this.min) this.idle.push(await this.create());
    const c = this.idle.shift();
    if (c) return c;
    if (this.all.size + this.creating < this.max) return this.create();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Back to the pool; a broken connection is closed instead. */
  release(c: pg.Client, broken = false): void {
    if (broken || !this.all.has(c)) return this.drop(c);
    const waiter = this.waiters.shift();
    if (waiter) waiter(c);
    else this.idle.push(c);
  }

  async end(): Promise<void> {
    await Promise.all([...this.all].map((c) => c.end().catch(() => undefined)));
    this.all.clear();
    this.idle.length = 0;
  }
}

// ------------------------------------------------------------------ the server

/** The database user a call connects as (from its secret); undefined: `pgUrl`'s own. */
type Login = { username: string; password: string } | undefined;

interface Transaction {
  id: string;
  client: pg.Client;
  database: string;
  login: Login;
  busy: boolean;
  idle?: NodeJS.Timeout;
  lifetime: NodeJS.Timeout;
}

const MAX_ENDED = 10_000;

export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  const opts = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<DataApiServerOptions>;
  const baseUrl = new URL(opts.pgUrl);
  const defaultDatabase = decodeURIComponent(baseUrl.pathname.replace(/^\//, '')) || 'postgres';
  const pools = new Map<string, SessionPool>();
  const catalogs = new Map<string, Catalog>();
  const transactions = new Map<string, Transaction>();
  /** why a transaction id is no longer usable (appended to the "is not found" message) */
  const ended = new Map<string, string>();
  let stopping = false;

  const connectionConfig = (database: string, login: Login): pg.ClientConfig => {
    const url = new URL(opts.pgUrl);
    url.pathname = `/${encodeURIComponent(opts.databases?.[database] ?? database)}`;
    if (login) {
      url.username = encodeURIComponent(login.username);
      url.password = encodeURIComponent(login.password);
    }
    return {
      connectionString: url.toString(),
      options: '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=1',
    };
  };
  const pool = (database: string, login: Login) => {
    // a pool per database and credentials: a changed password opens new sessions
    const key = JSON.stringify([database, login?.username, login?.password]);
    let p = pools.get(key);
    if (!p) pools.set(key, (p = new SessionPool(connectionConfig(database, login))));
    return p;
  };
  /** The database user the request's secret names (Aurora reads it from Secrets Manager with the caller's credentials). */
  const loginOf = async (body: { secretArn?: unknown }): Promise<Login> => {
    if (!options.secrets) return undefined;
    const arn = String(body.secretArn);
    let value: unknown;
    try {
      value = await options.secrets(arn);
    } catch (e) {
      throw badRequest(`Error fetching secret ${arn}: ${(e as Error)?.message ?? String(e)}`);
    }
    const { username, password } = (value ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string')
      throw badRequest(`The secret ${arn} must contain a username and a password`);
    return { username, password };
  };
  const catalog = (database: string) => {
    let c = catalogs.get(database);
    if (!c) catalogs.set(database, (c = new Catalog()));
    return c;
  };
  const cancel = async (database: string, login: Login, pid: number) => {
    const c = new pg.Client(connectionConfig(database, login));
    try {
      await c.connect();
      await c.query('select pg_catalog.pg_cancel_backend($1)', [pid]);
    } catch {
      /* the statement finished or the server went away */
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  const endTransaction = (tx: Transaction, reason: string) => {
    if (transactions.get(tx.id) !== tx) return;
    transactions.delete(tx.id);
    ended.set(tx.id, reason);
    if (ended.size > MAX_ENDED) ended.delete(ended.keys().next().value!);
    clearTimeout(tx.idle);
    clearTimeout(tx.lifetime);
    // closing the session rolls back whatever is still open in it
    void tx.client.end().catch(() => undefined);
  };
  const touch = (tx: Transaction) => {
    clearTimeout(tx.idle);
    tx.idle = setTimeout(
      () => endTransaction(tx, 'Transaction may be expired: no call used it within the idle timeout, so it was rolled back'),
      opts.idleTransactionMs,
    );
    tx.idle.unref();
  };
  const findTransaction = (id: unknown): Transaction => {
    if (typeof id !== 'string' || id === '') throw badRequest('transactionId is required');
    const tx = transactions.get(id);
    if (!tx) {
      const reason = ended.get(id) ?? 'It was not created by a BeginTransaction call';
      throw new ApiError('TransactionNotFoundException', 404, `Transaction ${id} is not found: ${reason}`);
    }
    if (tx.busy) throw databaseError('Transaction is still running a query');
    return tx;
  };

  /**
   * Runs `work` on a connection within the call timeout: on timeout the caller gets a
   * StatementTimeoutException and, unless `continueAfterTimeout`, the running statement is
   * cancelled (a transaction it ran in is ended).
   */
  async function onConnection<T>(
    req: { database?: unknown; secretArn?: unknown; transactionId?: unknown; continueAfterTimeout?: unknown },
    work: (client: pg.ClientBase, catalog: Catalog, state: { cancelled: boolean }) => Promise<T>,
    { atomic = false } = {},
  ): Promise<T> {
    const state = { cancelled: false };
    let client: pg.ClientBase;
    let database: string;
    let login: Login;
    let done: (failed: unknown) => void;
    let tx: Transaction | undefined;
    /** a cancel in flight: the connection goes back to the pool only after it, so it cannot hit the next call */
    let cancelling: Promise<void> = Promise.resolve();
    if (req.transactionId !== undefined) {
      tx = findTransaction(req.transactionId);
      tx.busy = true;
      clearTimeout(tx.idle);
      client = tx.client;
      database = tx.database;
      login = tx.login;
      const t = tx;
      done = (failed) => {
        t.busy = false;
        // a statement that failed in the database (or a lost connection) ends the transaction;
        // a request refused before it reached the database does not
        if (failed && !(failed instanceof ApiError)) endTransaction(t, 'Transaction has been aborted due to an error from a previous call');
        else if (transactions.get(t.id) === t) touch(t);
      };
    } else {
      database = typeof req.database === 'string' && req.database !== '' ? req.database : defaultDatabase;
      login = await loginOf(req);
      const sessions = pool(database, login);
      let pooled: pg.Client;
      try {
        pooled = await sessions.acquire();
      } catch (e) {
        throw sqlError(e);
      }
      client = pooled;
      done = (failed) =>
        void cancelling.then(() =>
          sessions.release(pooled, failed !== undefined && !(failed instanceof ApiError) && !(failed as pg.DatabaseError).severity),
        );
    }
    const pid = (client as unknown as { processID: number }).processID;
    const running = (async () => {
      if (atomic && !tx) await query(client, 'begin');
      try {
        const result = await work(client, catalog(database), state);
        if (atomic && !tx) await query(client, 'commit');
        return result;
      } catch (e) {
        if (atomic && !tx) await query(client, 'rollback').catch(() => undefined);
        throw e;
      }
    })();
    running.then(
      () => done(undefined),
      (e) => done(e ?? new Error('failed')),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ApiError('StatementTimeoutException', 400, 'Request timed out', { dbConnectionId: pid }));
        if (req.continueAfterTimeout === true) return;
        state.cancelled = true;
        if (tx) endTransaction(tx, 'Transaction has been aborted due to an error from a previous call');
        cancelling = cancel(database, login, pid);
      }, opts.statementTimeoutMs);
    });
    try {
      return await Promise.race([running, timedOut]);
    } catch (e) {
      throw sqlError(e);
    } finally {
      clearTimeout(timer);
      running.catch(() => undefined);
      timedOut.catch(() => undefined);
    }
  }

  async function run(
    client: pg.ClientBase,
    cat: Catalog,
    compiled: CompiledSql,
    params: SqlParameter[] | undefined,
    state: { cancelled: boolean },
  ) {
    const { oids, values } = bindParameters(compiled, params);
    if (state.cancelled) throw new ApiError('StatementTimeoutException', 400, 'Request timed out');
    const result = await query(client, compiled.text, values, oids);
    const fields = result.fields ?? [];
    await cat.typeInfo(
      client,
      fields.map((f) => f.dataTypeID),
    );
    return result;
  }

  const hasResultSet = (r: pg.QueryArrayResult) => (r.fields?.length ?? 0) > 0 || r.command === 'SELECT';
  const updated = (r: pg.QueryArrayResult) => (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(r.command) ? (r.rowCount ?? 0) : 0);

  const compile = (sql: unknown): CompiledSql => {
    if (typeof sql !== 'string') throw badRequest('sql is required');
    const compiled = compileNamedParameters(sql);
    if (compiled.statements > 1) throw new ApiError('ValidationException', 400, "Multistatements aren't supported");
    return compiled;
  };
  const checkResource = (body: Record<string, unknown>) => {
    if (typeof body.resourceArn !== 'string' || body.resourceArn === '') throw badRequest('resourceArn is required');
    if (typeof body.secretArn !== 'string' || body.secretArn === '') throw badRequest('secretArn is required');
    if (body.schema !== undefined) throw badRequest("The schema parameter isn't supported");
  };
  const tooLarge = () => badRequest('Database returned more than the allowed response size limit');

  const operations: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    async '/Execute'(body) {
      checkResource(body);
      const compiled = compile(body.sql);
      const resultOptions = (body.resultSetOptions ?? {}) as ResultOptions;
      return onConnection(body, async (client, cat, state) => {
        const r = await run(client, cat, compiled, body.parameters as SqlParameter[] | undefined, state);
        if (!hasResultSet(r)) return { numberOfRecordsUpdated: updated(r), generatedFields: [] };
        const enc = new Encoder(cat, resultOptions);
        const fields = r.fields;
        if (body.formatRecordsAs === 'JSON') {
          const names = fields.map((f) => f.name);
          if (new Set(names).size !== names.length)
            throw badRequest('The result set has duplicate column names: give each column a unique alias to format records as JSON');
          const rows = r.rows.map((row) => Object.fromEntries(row.map((raw, i) => [names[i]!, enc.json(raw, fields[i]!.dataTypeID)])));
          if (enc.bytes > opts.maxResponseBytes) throw tooLarge();
          const formattedRecords = toJson(rows);
          if (Buffer.byteLength(formattedRecords) > opts.maxFormattedRecordsBytes)
            throw new ApiError('UnsupportedResultException', 400, 'The JSON-formatted result set is larger than 10 MB');
          return { formattedRecords, numberOfRecordsUpdated: updated(r) };
        }
        const records = r.rows.map((row) => row.map((raw, i) => enc.field(raw, fields[i]!.dataTypeID)));
        if (enc.bytes > opts.maxResponseBytes) throw tooLarge();
        const out: Record<string, unknown> = { records, numberOfRecordsUpdated: updated(r) };
        if (body.includeResultMetadata === true) {
          const attrs = await cat.columnAttrs(client, fields);
          out.columnMetadata = fields.map((f) => columnMetadata(f, cat, attrs));
        }
        return out;
      });
    },

    async '/BatchExecute'(body) {
      checkResource(body);
      const compiled = compile(body.sql);
      const sets = (body.parameterSets ?? []) as SqlParameter[][];
      if (!Array.isArray(sets)) throw badRequest('parameterSets must be a list');
      return onConnection(
        body,
        async (client, cat, state) => {
          const enc = new Encoder(cat, {});
          const updateResults = [];
          for (const set of sets) {
            const r = await run(client, cat, compiled, set, state);
            // Aurora PostgreSQL has no generated-keys support: a RETURNING clause's row is what comes back
            const row = hasResultSet(r) ? r.rows[0] : undefined;
            updateResults.push({ generatedFields: row ? row.map((raw, i) => enc.field(raw, r.fields[i]!.dataTypeID)) : [] });
            if (enc.bytes > opts.maxResponseBytes) throw tooLarge();
          }
          return { updateResults };
        },
        { atomic: true },
      );
    },

    async '/BeginTransaction'(body) {
      checkResource(body);
      const database = typeof body.database === 'string' && body.database !== '' ? body.database : defaultDatabase;
      const login = await loginOf(body);
      const client = new pg.Client(connectionConfig(database, login));
      client.on('error', () => undefined);
      try {
        await client.connect();
        await query(client, 'begin');
      } catch (e) {
        await client.end().catch(() => undefined);
        throw sqlError(e);
      }
      const id = randomBytes(48).toString('base64');
      const tx: Transaction = {
        id,
        client,
        database,
        login,
        busy: false,
        lifetime: setTimeout(
          () => endTransaction(tx, 'Transaction may be expired: it reached the maximum duration and was rolled back'),
          opts.maxTransactionMs,
        ),
      };
      tx.lifetime.unref();
      client.on('end', () => endTransaction(tx, 'Transaction has been aborted: its database connection was closed'));
      transactions.set(id, tx);
      touch(tx);
      return { transactionId: id };
    },

    async '/CommitTransaction'(body) {
      checkResource(body);
      const tx = findTransaction(body.transactionId);
      tx.busy = true;
      try {
        await query(tx.client, 'commit');
      } catch (e) {
        throw sqlError(e);
      } finally {
        tx.busy = false;
        endTransaction(tx, 'The transaction was already ended by a CommitTransaction call');
      }
      return { transactionStatus: 'Transaction Committed' };
    },

    async '/RollbackTransaction'(body) {
      checkResource(body);
      const tx = findTransaction(body.transactionId);
      tx.busy = true;
      try {
        await query(tx.client, 'rollback');
      } catch (e) {
        throw sqlError(e);
      } finally {
        tx.busy = false;
        endTransaction(tx, 'The transaction was already ended by a RollbackTransaction call');
      }
      return { transactionStatus: 'Rollback Complete' };
    },
  };

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': randomUUID(),
      ...headers,
    });
    res.end(body);
  };
  const sendError = (res: ServerResponse, e: ApiError) => {
    const body: Record<string, unknown> = { __type: e.type, ...e.extra };
    if (e.message) body.message = e.message;
    send(res, e.status, toJson(body), { 'x-amzn-errortype': e.type });
  };

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= opts.maxRequestBytes) chunks.push(c);
      });
      req.on('end', () =>
        size > opts.maxRequestBytes
          ? reject(badRequest(`Request size exceeds the limit of ${opts.maxRequestBytes} bytes`))
          : resolve(Buffer.concat(chunks)),
      );
      req.on('error', reject);
    });

  const SIGV4 =
    /^AWS4-HMAC-SHA256 Credential=[^/\s]+\/\d{8}\/[^/\s]+\/rds-data\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$/;

  const server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const op = operations[path];
      if (req.method !== 'POST' || !op) {
        req.resume();
        throw new ApiError('UnknownOperationException', 404, `Unknown operation ${req.method} ${path}`);
      }
      const auth = req.headers.authorization;
      if (!auth) {
        req.resume();
        throw new ApiError('MissingAuthenticationTokenException', 403, 'Missing Authentication Token');
      }
      if (!SIGV4.test(auth) || !(req.headers['x-amz-date'] || req.headers.date)) {
        req.resume();
        throw new ApiError(
          'IncompleteSignatureException',
          403,
          'Authorization header requires a SigV4 Credential, SignedHeaders and Signature, and an X-Amz-Date header',
        );
      }
      const raw = await readBody(req);
      let body: unknown;
      try {
        body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ApiError('SerializationException', 400, 'The request body is not valid JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new ApiError('SerializationException', 400, 'The request body must be a JSON object');
      if (stopping) throw new ApiError('ServiceUnavailableError', 503, '');
      const out = await op(body as Record<string, unknown>);
      send(res, 200, toJson(out));
    } catch (e) {
      const err = e instanceof ApiError ? e : sqlError(e);
      if (err.status >= 500) console.error('data-api-server:', e);
      if (!res.headersSent) sendError(res, err);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    endpoint: `http://${host}:${address.port}`,
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const tx of [...transactions.values()]) endTransaction(tx, 'The server stopped and rolled the transaction back');
      await closed;
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => undefined)));
      pools.clear();
    },
  };
}

// ------------------------------------------------------------------ standalone

async function main(argv: string[]): Promise<void> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    if (!k.startsWith('--') || argv[i + 1] === undefined)
      throw new Error(
        `usage: data-api-server --pg URL [--port N] [--host H] [--statement-timeout-ms N] [--max-response-bytes N] [--idle-transaction-ms N] (at ${k})`,
      );
    args.set(k.slice(2), argv[i + 1]!);
  }
  const num = (k: string) => (args.has(k) ? Number(args.get(k)) : undefined);
  const pgUrl = args.get('pg');
  if (!pgUrl) throw new Error('--pg URL is required');
  const server = await startDataApiServer({
    pgUrl,
    host: args.get('host'),
    port: num('port'),
    statementTimeoutMs: num('statement-timeout-ms'),
    maxResponseBytes: num('max-response-bytes'),
    idleTransactionMs: num('idle-transaction-ms'),
  });
  process.stdout.write(`${server.endpoint}\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(2);
  });
}
