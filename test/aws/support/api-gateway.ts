import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { getAttOf, refTarget, resourceOf, resourcesOfType, shortId, type CfnTemplate } from './template.js';

/**
 * An API Gateway REST API (v1) emulator built from a synthesized CloudFormation template: the
 * route table comes from its `AWS::ApiGateway::Resource` / `Method` resources, IAM methods
 * check the caller's SigV4 signature, Lambda proxy events are built as API Gateway builds them,
 * and API Gateway's own refusals use the template's `AWS::ApiGateway::GatewayResponse`
 * customisations (or API Gateway's defaults where it has none).
 */

/** API Gateway's integration timeout for REST APIs (29 s). */
export const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;
/** API Gateway's payload limit for REST APIs (10 MB). */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** How far X-Amz-Date may be from the gateway's clock (AWS: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** An IAM principal the emulated account knows, by access key id. */
export interface IamIdentity {
  secretAccessKey: string;
  /** `arn:aws:iam::<acct>:user/<name>`, `arn:aws:sts::<acct>:assumed-role/<role>/<session>` or `arn:aws:iam::<acct>:root` */
  arn: string;
  /** Temporary credentials: the request must carry this `X-Amz-Security-Token`. */
  sessionToken?: string;
  /** The unique id API Gateway reports as `caller` / `user` (`AIDA…`, `AROA…:<session>`). @default derived from the ARN */
  principalId?: string;
}

export type LambdaProxyInvoke = (functionLogicalId: string, event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface ApiGatewayOptions {
  template: CfnTemplate;
  /** Runs the function the method integrates with (e.g. the bundled handler in a child process). */
  invoke: LambdaProxyInvoke;
  identities: Record<string, IamIdentity>;
  region: string;
  /** @default the `StageName` of the template's `AWS::ApiGateway::Stage` for the API */
  stage?: string;
  /** The account that owns the API (`requestContext.accountId`). @default '123456789012' */
  accountId?: string;
  /** Which `AWS::ApiGateway::RestApi` when the template has several. */
  restApiLogicalId?: string;
  /** @default DEFAULT_INTEGRATION_TIMEOUT_MS */
  integrationTimeoutMs?: number;
  /** @default MAX_REQUEST_BYTES */
  maxRequestBytes?: number;
  /** The gateway's clock, for the SigV4 time check. @default Date.now */
  now?: () => number;
  /** Where the gateway reports failed integrations (what CloudWatch execution logs would show). @default console.error */
  log?: (line: string) => void;
}

export interface ApiRoute {
  method: string;
  /** The resource path as the template defines it: `/v1/registry/{artifactId}` */
  path: string;
  functionLogicalId: string;
  authorizationType: string;
  methodLogicalId: string;
}

export interface RunningApiGateway {
  /** The stage's base URL, ending in `/`: `http://127.0.0.1:<port>/<stage>/` */
  url: string;
  routes: ApiRoute[];
  apiId: string;
  stage: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The API, read from the template

type JsonSchema = Record<string, unknown>;

interface MethodDef extends ApiRoute {
  resourceId: string;
  validateBody: boolean;
  validateParameters: boolean;
  /** `method.request.querystring.x` / `method.request.header.x` / `method.request.path.x` marked required */
  requiredParameters: { location: 'path' | 'querystring' | 'header'; name: string }[];
  /** content type → schema */
  requestModels: Record<string, JsonSchema>;
}

interface ResourceNode {
  id: string;
  pathPart: string;
  path: string;
  children: ResourceNode[];
  methods: Map<string, MethodDef>;
}

interface GatewayResponseDef {
  statusCode?: number;
  templates: Record<string, string>;
  headers: Record<string, string>;
}

export interface RestApiDefinition {
  restApiLogicalId: string;
  apiId: string;
  stage: string;
  root: ResourceNode;
  routes: ApiRoute[];
  binaryMediaTypes: string[];
  gatewayResponses: Map<string, GatewayResponseDef>;
}

const SUPPORTED_SCHEMA_KEYWORDS = new Set([
  '$schema',
  'title',
  'description',
  'id',
  '$id',
  'default',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'pattern',
  'minItems',
  'maxItems',
]);

function checkSchemaKeywords(schema: unknown, where: string): void {
  if (typeof schema !== 'object' || schema === null) return;
  for (const [k, v] of Object.entries(schema)) {
    if (!SUPPORTED_SCHEMA_KEYWORDS.has(k))
      throw new Error(`${where}: JSON schema keyword '${k}' is not checked by the API Gateway emulator; add it to validateSchema`);
    if (k === 'properties' && v && typeof v === 'object')
      for (const [p, s] of Object.entries(v)) checkSchemaKeywords(s, `${where}.properties.${p}`);
    if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object') checkSchemaKeywords(v, `${where}.${k}`);
  }
}

/** Reads the REST API of the template: resources, methods, validators, models, gateway responses, stage. */
export function readRestApi(template: CfnTemplate, opts: { restApiLogicalId?: string; stage?: string } = {}): RestApiDefinition {
  const apis = resourcesOfType(template, 'AWS::ApiGateway::RestApi');
  if (apis.length === 0) throw new Error('the template has no AWS::ApiGateway::RestApi');
  let apiLogicalId = opts.restApiLogicalId;
  if (!apiLogicalId) {
    if (apis.length > 1)
      throw new Error(`the template has ${apis.length} REST APIs (${apis.map(([id]) => id).join(', ')}): pass restApiLogicalId`);
    apiLogicalId = apis[0]![0];
  }
  const api = resourceOf(template, apiLogicalId, 'AWS::ApiGateway::RestApi');
  if (api.Properties?.Body !== undefined || api.Properties?.BodyS3Location !== undefined)
    throw new Error(`${apiLogicalId} is defined by an OpenAPI body: the emulator reads Resource/Method resources only`);
  const ofThisApi = (props: { RestApiId?: unknown } | undefined) => refTarget(props?.RestApiId) === apiLogicalId;

  // Resources → full paths.
  const root: ResourceNode = { id: 'root', pathPart: '', path: '/', children: [], methods: new Map() };
  const nodes = new Map<string, ResourceNode>([['root', root]]);
  const resources = resourcesOfType(template, 'AWS::ApiGateway::Resource').filter(([, r]) => ofThisApi(r.Properties));
  const parentOf = (value: unknown, where: string): string => {
    const att = getAttOf(value);
    if (att && att[0] === apiLogicalId && att[1] === 'RootResourceId') return 'root';
    const ref = refTarget(value);
    if (ref && template.Resources[ref]?.Type === 'AWS::ApiGateway::Resource') return ref;
    throw new Error(`${where}: cannot tell which resource ${JSON.stringify(value)} names`);
  };
  const resolveNode = (logicalId: string, seen: Set<string> = new Set()): ResourceNode => {
    const known = nodes.get(logicalId);
    if (known) return known;
    if (seen.has(logicalId)) throw new Error(`resource cycle at ${logicalId}`);
    seen.add(logicalId);
    const r = resourceOf(template, logicalId, 'AWS::ApiGateway::Resource');
    const pathPart = r.Properties?.PathPart;
    if (typeof pathPart !== 'string' || pathPart === '') throw new Error(`${logicalId}: PathPart must be a literal string`);
    const parent = resolveNode(parentOf(r.Properties?.ParentId, logicalId), seen);
    const node: ResourceNode = {
      id: logicalId,
      pathPart,
      path: `${parent.path === '/' ? '' : parent.path}/${pathPart}`,
      children: [],
      methods: new Map(),
    };
    parent.children.push(node);
    nodes.set(logicalId, node);
    return node;
  };
  for (const [id] of resources) resolveNode(id);

  // Validators and models.
  const validatorOf = (value: unknown): { body: boolean; params: boolean } => {
    const id = refTarget(value);
    if (!id) return { body: false, params: false };
    const v = resourceOf(template, id, 'AWS::ApiGateway::RequestValidator');
    return { body: v.Properties?.ValidateRequestBody === true, params: v.Properties?.ValidateRequestParameters === true };
  };
  const modelSchema = (value: unknown, where: string): JsonSchema => {
    const id = refTarget(value);
    let model;
    if (id) model = resourceOf(template, id, 'AWS::ApiGateway::Model');
    else if (typeof value === 'string') {
      if (value === 'Empty') return {};
      model = resourcesOfType(template, 'AWS::ApiGateway::Model').find(
        ([, m]) => ofThisApi(m.Properties) && m.Properties?.Name === value,
      )?.[1];
      if (!model) throw new Error(`${where}: no model named ${value}`);
    } else throw new Error(`${where}: cannot tell which model ${JSON.stringify(value)} names`);
    const raw = model.Properties?.Schema;
    const schema = (typeof raw === 'string' ? JSON.parse(raw) : (raw ?? {})) as JsonSchema;
    checkSchemaKeywords(schema, where);
    return schema;
  };

  // Methods.
  const routes: ApiRoute[] = [];
  for (const [logicalId, m] of resourcesOfType(template, 'AWS::ApiGateway::Method')) {
    const p = m.Properties ?? {};
    if (!ofThisApi(p)) continue;
    const httpMethod = String(p.HttpMethod).toUpperCase();
    const att = getAttOf(p.ResourceId);
    const resourceId = att && att[0] === apiLogicalId && att[1] === 'RootResourceId' ? 'root' : refTarget(p.ResourceId);
    if (!resourceId) throw new Error(`${logicalId}: cannot tell which resource ResourceId ${JSON.stringify(p.ResourceId)} names`);
    const node = resolveNode(resourceId);
    const integration = p.Integration ?? {};
    if (integration.Type !== 'AWS_PROXY')
      throw new Error(
        `${logicalId} (${httpMethod} ${node.path}): integration type ${String(integration.Type)} is not emulated (only AWS_PROXY)`,
      );
    const functionLogicalId = lambdaOfIntegrationUri(template, integration.Uri);
    if (!functionLogicalId)
      throw new Error(
        `${logicalId} (${httpMethod} ${node.path}): no function of the template in Integration.Uri ${JSON.stringify(integration.Uri)}`,
      );
    const authorizationType = String(p.AuthorizationType ?? 'NONE');
    if (authorizationType !== 'NONE' && authorizationType !== 'AWS_IAM')
      throw new Error(`${logicalId}: AuthorizationType ${authorizationType} is not emulated (NONE and AWS_IAM are)`);
    if (p.ApiKeyRequired === true) throw new Error(`${logicalId}: ApiKeyRequired is not emulated`);
    const validator = validatorOf(p.RequestValidatorId);
    const requiredParameters = Object.entries((p.RequestParameters ?? {}) as Record<string, unknown>)
      .filter(([, required]) => required === true)
      .map(([key]) => {
        const mm = /^method\.request\.(path|querystring|header)\.(.+)$/.exec(key);
        if (!mm) throw new Error(`${logicalId}: request parameter ${key} is not understood`);
        return { location: mm[1] as 'path' | 'querystring' | 'header', name: mm[2]! };
      });
    const requestModels = Object.fromEntries(
      Object.entries((p.RequestModels ?? {}) as Record<string, unknown>).map(([ct, model]) => [
        ct.toLowerCase(),
        modelSchema(model, `${logicalId}.RequestModels[${ct}]`),
      ]),
    );
    const def: MethodDef = {
      method: httpMethod,
      path: node.path,
      functionLogicalId,
      authorizationType,
      methodLogicalId: logicalId,
      resourceId,
      validateBody: validator.body,
      validateParameters: validator.params,
      requiredParameters,
      requestModels,
    };
    if (node.methods.has(httpMethod)) throw new Error(`${logicalId}: ${httpMethod} ${node.path} is defined twice`);
    node.methods.set(httpMethod, def);
    routes.push({ method: httpMethod, path: node.path, functionLogicalId, authorizationType, methodLogicalId: logicalId });
  }

  // Gateway responses.
  const gatewayResponses = new Map<string, GatewayResponseDef>();
  for (const [, g] of resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse')) {
    const p = g.Properties ?? {};
    if (!ofThisApi(p)) continue;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((p.ResponseParameters ?? {}) as Record<string, unknown>)) {
      const h = /^gatewayresponse\.header\.(.+)$/.exec(k);
      const lit = typeof v === 'string' ? /^'(.*)'$/.exec(v) : null;
      if (h && lit) headers[h[1]!] = lit[1]!;
    }
    gatewayResponses.set(String(p.ResponseType), {
      ...(p.StatusCode !== undefined && { statusCode: Number(p.StatusCode) }),
      templates: (p.ResponseTemplates ?? {}) as Record<string, string>,
      headers,
    });
  }

  // Stage.
  let stage = opts.stage;
  if (!stage) {
    const stages = resourcesOfType(template, 'AWS::ApiGateway::Stage').filter(([, s]) => ofThisApi(s.Properties));
    const names = stages.map(([, s]) => s.Properties?.StageName).filter((n): n is string => typeof n === 'string');
    if (names.length !== 1) throw new Error(`cannot tell the stage of ${apiLogicalId} (stages: ${names.join(', ') || 'none'}): pass stage`);
    stage = names[0]!;
  }
  const binaryMediaTypes = ((api.Properties?.BinaryMediaTypes ?? []) as string[]).map((t) => t.replace(/~1/g, '/').toLowerCase());
  return {
    restApiLogicalId: apiLogicalId,
    apiId: shortId(`restapi:${apiLogicalId}`),
    stage,
    root,
    routes,
    binaryMediaTypes,
    gatewayResponses,
  };
}

/** The function an AWS_PROXY integration Uri invokes: the `Fn::GetAtt [Fn, Arn]` inside its Join/Sub, or a literal ARN naming a function of the template. */
function lambdaOfIntegrationUri(template: CfnTemplate, uri: unknown): string | undefined {
  const isFunction = (id: string) => template.Resources[id]?.Type === 'AWS::Lambda::Function';
  const walk = (v: unknown): string | undefined => {
    const att = getAttOf(v);
    if (att) return att[1] === 'Arn' && isFunction(att[0]) ? att[0] : undefined;
    if (typeof v === 'string') {
      for (const m of v.matchAll(/\$\{([A-Za-z0-9]+)\.Arn\}/g)) if (isFunction(m[1]!)) return m[1]; // Fn::Sub text
      const lit = /:function:([^/:]+)/.exec(v);
      if (lit) return resourcesOfType(template, 'AWS::Lambda::Function').find(([, f]) => f.Properties?.FunctionName === lit[1])?.[0];
      return undefined;
    }
    if (Array.isArray(v)) {
      for (const x of v) {
        const found = walk(x);
        if (found) return found;
      }
      return undefined;
    }
    if (v && typeof v === 'object') {
      for (const x of Object.values(v)) {
        const found = walk(x);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(uri);
}

// ---------------------------------------------------------------------------------------------
// Routing

interface RouteMatch {
  node: ResourceNode;
  pathParameters: Record<string, string>;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The most specific resource for the path: at each segment a literal child wins over a
 * `{param}` child, which wins over a `{proxy+}` child; only resources with methods are
 * candidates (falling back to a less specific branch when a specific one dead-ends).
 */
export function matchResource(root: ResourceNode, rawSegments: string[]): RouteMatch | undefined {
  const go = (node: ResourceNode, i: number, params: Record<string, string>): RouteMatch | undefined => {
    if (i === rawSegments.length) return node.methods.size > 0 ? { node, pathParameters: params } : undefined;
    const seg = rawSegments[i]!;
    const decoded = decodeSegment(seg);
    const literal = node.children.filter((c) => !c.pathPart.startsWith('{'));
    const param = node.children.filter((c) => /^\{[^}+]+\}$/.test(c.pathPart));
    const greedy = node.children.filter((c) => /^\{[^}]+\+\}$/.test(c.pathPart));
    for (const c of literal) {
      if (c.pathPart === decoded) {
        const m = go(c, i + 1, params);
        if (m) return m;
      }
    }
    if (seg !== '') {
      for (const c of param) {
        const m = go(c, i + 1, { ...params, [c.pathPart.slice(1, -1)]: decoded });
        if (m) return m;
      }
    }
    for (const c of greedy) {
      if (c.methods.size > 0)
        return { node: c, pathParameters: { ...params, [c.pathPart.slice(1, -2)]: rawSegments.slice(i).map(decodeSegment).join('/') } };
    }
    return undefined;
  };
  return go(root, 0, {});
}

// ---------------------------------------------------------------------------------------------
// SigV4

type GatewayResponseType =
  | 'MISSING_AUTHENTICATION_TOKEN'
  | 'INVALID_SIGNATURE'
  | 'EXPIRED_TOKEN'
  | 'ACCESS_DENIED'
  | 'BAD_REQUEST_BODY'
  | 'BAD_REQUEST_PARAMETERS'
  | 'REQUEST_TOO_LARGE'
  | 'INTEGRATION_TIMEOUT'
  | 'INTEGRATION_FAILURE'
  | 'DEFAULT_5XX';

export interface SigV4Request {
  method: string;
  /** the path as received (percent-encoded), without the query */
  rawPath: string;
  query: URLSearchParams;
  /** raw header pairs, as received */
  headers: [string, string][];
  body: Buffer;
}

export type SigV4Outcome =
  { ok: true; accessKeyId: string; identity: IamIdentity } | { ok: false; type: GatewayResponseType; errorType: string; message: string };

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Exposes the signer's canonical request and string to sign, for API Gateway's mismatch message. */
class Verifier extends SignatureV4 {
  async explain(
    request: Parameters<SignatureV4['sign']>[0],
    signedHeaders: Set<string>,
    longDate: string,
    scope: string,
    payloadHash: string,
  ): Promise<{ canonical: string; stringToSign: string }> {
    const headers = { ...(request as { headers: Record<string, string> }).headers, 'x-amz-date': longDate };
    const canonical = this.createCanonicalRequest(
      { ...(request as object), headers } as never,
      getCanonicalHeaders({ headers } as never, undefined, signedHeaders),
      payloadHash,
    );
    return { canonical, stringToSign: await this.createStringToSign(longDate, scope, canonical, 'AWS4-HMAC-SHA256') };
  }
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const amzDate = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

/**
 * Verifies an `Authorization: AWS4-HMAC-SHA256 …` header the way API Gateway's IAM
 * authorization does: known access key, credential scope (date, region, service), clock skew,
 * session token, then the signature recomputed with @smithy/signature-v4 over what was received
 * (method, path, query, the signed headers, and the body's own SHA-256 — a mismatching
 * `x-amz-content-sha256` fails). Query-string (presigned) SigV4 is not accepted.
 */
export async function verifySigV4(
  req: SigV4Request,
  opts: { identities: Record<string, IamIdentity>; region: string; service?: string; now?: number },
): Promise<SigV4Outcome> {
  const service = opts.service ?? 'execute-api';
  const now = opts.now ?? Date.now();
  const header = (name: string) => req.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
  const auth = header('authorization')[0];
  const fail = (type: GatewayResponseType, errorType: string, message: string): SigV4Outcome => ({ ok: false, type, errorType, message });
  if (auth === undefined || auth.trim() === '')
    return fail('MISSING_AUTHENTICATION_TOKEN', 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(auth.trim());
  const fields = new Map<string, string>();
  for (const part of (m?.[1] ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((f) => !fields.get(f));
  if (!m || missing.length) {
    return fail(
      'INVALID_SIGNATURE',
      'IncompleteSignatureException',
      `${missing.map((f) => `Authorization header requires '${f}' parameter.`).join(' ') || 'Unsupported authorization scheme.'} Authorization=${auth}`,
    );
  }
  const credential = fields.get('Credential')!.split('/');
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = credential;
  if (credential.length !== 5 || terminator !== 'aws4_request')
    return fail(
      'INVALID_SIGNATURE',
      'IncompleteSignatureException',
      `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator ?? ''}'.`,
    );
  const identity = opts.identities[accessKeyId!];
  if (!identity) return fail('INVALID_SIGNATURE', 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  const dateHeader = header('x-amz-date')[0];
  if (dateHeader === undefined)
    return fail(
      'INVALID_SIGNATURE',
      'IncompleteSignatureException',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header (this emulator accepts X-Amz-Date only).",
    );
  const signingDate = parseAmzDate(dateHeader.trim());
  if (!signingDate)
    return fail(
      'INVALID_SIGNATURE',
      'IncompleteSignatureException',
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'", not '${dateHeader}'.`,
    );
  const longDate = amzDate(signingDate.getTime());
  if (scopeDate !== longDate.slice(0, 8))
    return fail(
      'INVALID_SIGNATURE',
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${longDate.slice(0, 8)}', from '${longDate}'.`,
    );
  if (scopeRegion !== opts.region)
    return fail('INVALID_SIGNATURE', 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'. `);
  if (scopeService !== service)
    return fail('INVALID_SIGNATURE', 'InvalidSignatureException', `Credential should be scoped to correct service: '${service}'. `);
  if (signingDate.getTime() < now - MAX_CLOCK_SKEW_MS)
    return fail(
      'INVALID_SIGNATURE',
      'InvalidSignatureException',
      `Signature expired: ${longDate} is now earlier than ${amzDate(now - MAX_CLOCK_SKEW_MS)} (${amzDate(now)} - 5 min.)`,
    );
  if (signingDate.getTime() > now + MAX_CLOCK_SKEW_MS)
    return fail(
      'INVALID_SIGNATURE',
      'InvalidSignatureException',
      `Signature not yet current: ${longDate} is still later than ${amzDate(now + MAX_CLOCK_SKEW_MS)} (${amzDate(now)} + 5 min.)`,
    );
  const token = header('x-amz-security-token')[0];
  if ((identity.sessionToken ?? undefined) !== token)
    return fail('INVALID_SIGNATURE', 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  const signedHeaders = fields
    .get('SignedHeaders')!
    .split(';')
    .map((h) => h.trim().toLowerCase());
  if (!signedHeaders.includes('host'))
    return fail(
      'INVALID_SIGNATURE',
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );

  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  const declaredHash = header('x-amz-content-sha256')[0];
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const values = header(name);
    if (values.length) headers[name] = values.join(',');
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(req.query.keys())) {
    const all = req.query.getAll(key);
    query[key] = all.length === 1 ? all[0]! : all;
  }
  const hostHeader = headers.host ?? '';
  const request = {
    method: req.method,
    protocol: 'https:',
    hostname: hostHeader.replace(/:\d+$/, ''),
    path: req.rawPath,
    query,
    headers,
    body: req.body,
  };
  const verifier = new Verifier({
    service,
    region: opts.region,
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: identity.secretAccessKey,
      ...(identity.sessionToken && { sessionToken: identity.sessionToken }),
    },
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await verifier.sign(request as never, { signingDate, signableHeaders: new Set(signedHeaders) });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const given = fields.get('Signature')!;
  const sameList = /SignedHeaders=([^,]+)/.exec(String(signed.headers.authorization))?.[1] === signedHeaders.join(';');
  const hashOk = declaredHash === undefined || declaredHash === bodyHash;
  if (hashOk && sameList && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected)))
    return { ok: true, accessKeyId: accessKeyId!, identity };
  const { canonical, stringToSign } = await verifier.explain(
    { ...request, headers: { ...headers, ...(declaredHash !== undefined && { 'x-amz-content-sha256': bodyHash }) } } as never,
    new Set(signedHeaders),
    longDate,
    `${scopeDate}/${opts.region}/${service}/aws4_request`,
    bodyHash,
  );
  return fail(
    'INVALID_SIGNATURE',
    'InvalidSignatureException',
    `${SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'${canonical}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`,
  );
}

/** `requestContext.identity.caller` / `user`: the principal's unique id, as IAM reports it. */
export function principalIdFor(identity: IamIdentity): string {
  if (identity.principalId) return identity.principalId;
  const id = (prefix: string) =>
    `${prefix}${createHash('sha256')
      .update(identity.arn)
      .digest('hex')
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, '')
      .slice(0, 17)}`;
  const assumed = /^arn:[^:]+:sts::\d{12}:assumed-role\/[^/]+\/(.+)$/.exec(identity.arn);
  if (assumed) return `${id('AROA')}:${assumed[1]}`;
  const root = /^arn:[^:]+:iam::(\d{12}):root$/.exec(identity.arn);
  if (root) return root[1]!;
  return id(/:role\//.test(identity.arn) ? 'AROA' : 'AIDA');
}

// ---------------------------------------------------------------------------------------------
// Request validation (a draft-4 subset: the keywords SUPPORTED_SCHEMA_KEYWORDS lists)

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validateSchema(schema: JsonSchema, value: unknown, at = ''): string[] {
  const errors: string[] = [];
  const where = at || 'instance';
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) {
      errors.push(
        `${where} type (${t === 'integer' ? 'integer' : t}) does not match any allowed primitive type (allowed: [${types.map((x) => `"${x}"`).join(',')}])`,
      );
      return errors;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    errors.push(`${where} value not found in enum`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${where} string too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${where} string too long`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${where} ECMA 262 regex "${schema.pattern}" does not match input string`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum)
      errors.push(`${where} numeric instance is lower than the required minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum)
      errors.push(`${where} numeric instance is greater than the required maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${where} array is too short`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${where} array is too long`);
    if (schema.items && typeof schema.items === 'object')
      value.forEach((v, i) => errors.push(...validateSchema(schema.items as JsonSchema, v, `${at}/${i}`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const missing = ((schema.required ?? []) as string[]).filter((k) => !(k in obj));
    if (missing.length) errors.push(`${where} object has missing required properties ([${missing.map((k) => `"${k}"`).join(',')}])`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validateSchema(props[k], v, `${at}/${k}`));
      else if (schema.additionalProperties === false)
        errors.push(`${where} object instance has properties which are not allowed by the schema: ["${k}"]`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
        errors.push(...validateSchema(schema.additionalProperties as JsonSchema, v, `${at}/${k}`));
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// The server

const DEFAULTS: Record<GatewayResponseType, { status: number; errorType: string; message: string; family: 'DEFAULT_4XX' | 'DEFAULT_5XX' }> =
  {
    MISSING_AUTHENTICATION_TOKEN: {
      status: 403,
      errorType: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
      family: 'DEFAULT_4XX',
    },
    INVALID_SIGNATURE: { status: 403, errorType: 'InvalidSignatureException', message: SIGNATURE_MISMATCH, family: 'DEFAULT_4XX' },
    EXPIRED_TOKEN: {
      status: 403,
      errorType: 'ExpiredTokenException',
      message: 'The security token included in the request is expired',
      family: 'DEFAULT_4XX',
    },
    ACCESS_DENIED: { status: 403, errorType: 'AccessDeniedException', message: 'Forbidden', family: 'DEFAULT_4XX' },
    BAD_REQUEST_BODY: { status: 400, errorType: 'BadRequestException', message: 'Invalid request body', family: 'DEFAULT_4XX' },
    BAD_REQUEST_PARAMETERS: {
      status: 400,
      errorType: 'BadRequestException',
      message: 'Missing required request parameters',
      family: 'DEFAULT_4XX',
    },
    REQUEST_TOO_LARGE: { status: 413, errorType: 'RequestTooLargeException', message: 'Request Too Long', family: 'DEFAULT_4XX' },
    INTEGRATION_TIMEOUT: {
      status: 504,
      errorType: 'InternalServerErrorException',
      message: 'Endpoint request timed out',
      family: 'DEFAULT_5XX',
    },
    INTEGRATION_FAILURE: {
      status: 504,
      errorType: 'InternalServerErrorException',
      message: 'Internal server error',
      family: 'DEFAULT_5XX',
    },
    // A Lambda function error or a malformed proxy result: 502 "Internal server error".
    DEFAULT_5XX: { status: 502, errorType: 'InternalServerErrorException', message: 'Internal server error', family: 'DEFAULT_5XX' },
  };

interface RequestContextLite {
  requestId: string;
  extendedRequestId: string;
  stage: string;
  resourcePath?: string;
  httpMethod: string;
  path: string;
  sourceIp: string;
}

function renderTemplate(text: string, ctx: RequestContextLite, type: string, message: string): string {
  const vars: Record<string, string> = {
    'context.requestId': ctx.requestId,
    'context.extendedRequestId': ctx.extendedRequestId,
    'context.stage': ctx.stage,
    'context.resourcePath': ctx.resourcePath ?? '',
    'context.httpMethod': ctx.httpMethod,
    'context.path': ctx.path,
    'context.identity.sourceIp': ctx.sourceIp,
    'context.error.message': message,
    'context.error.messageString': JSON.stringify(message),
    'context.error.responseType': type,
  };
  return text.replace(/\$\{?(context(?:\.[A-Za-z]+)+)\}?/g, (_, name: string) => vars[name] ?? '');
}

function collectHeaders(req: IncomingMessage): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return pairs;
}

function mediaTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*/*') return true;
  const [pt, ps] = pattern.split('/');
  const [t, s] = type.split('/');
  return pt === t && (ps === '*' || ps === s);
}

/** The body, or undefined when it is over the limit (read to the end and dropped, so the client sees the 413). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
    else chunks.length = 0;
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

const ALLOWED_RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

/** The proxy result as API Gateway accepts it, or the reason it answers 502 "Malformed Lambda proxy response". */
export function checkProxyResult(
  result: unknown,
): { ok: true; status: number; headers: [string, string][]; body: Buffer } | { ok: false; reason: string } {
  if (typeof result !== 'object' || result === null || Array.isArray(result))
    return { ok: false, reason: `the result is ${result === null ? 'null' : typeof result}, not an object` };
  const r = result as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !ALLOWED_RESULT_KEYS.has(k));
  if (extra.length) return { ok: false, reason: `unexpected fields ${extra.join(', ')}` };
  const status = typeof r.statusCode === 'string' && /^\d{3}$/.test(r.statusCode) ? Number(r.statusCode) : r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
    return { ok: false, reason: `statusCode ${JSON.stringify(r.statusCode)} is not an HTTP status` };
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string')
    return { ok: false, reason: `body is ${typeof r.body}, not a string` };
  const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  const headers: [string, string][] = [];
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object' || Array.isArray(r.headers)) return { ok: false, reason: 'headers is not an object' };
    for (const [k, v] of Object.entries(r.headers)) {
      if (!scalar(v)) return { ok: false, reason: `header ${k} is not a string` };
      headers.push([k, String(v)]);
    }
  }
  if (r.multiValueHeaders !== undefined && r.multiValueHeaders !== null) {
    if (typeof r.multiValueHeaders !== 'object' || Array.isArray(r.multiValueHeaders))
      return { ok: false, reason: 'multiValueHeaders is not an object' };
    for (const [k, vs] of Object.entries(r.multiValueHeaders)) {
      if (!Array.isArray(vs) || !vs.every(scalar)) return { ok: false, reason: `multiValueHeaders.${k} is not a list of strings` };
      for (const v of vs) headers.push([k, String(v)]);
    }
  }
  if (r.isBase64Encoded !== undefined && typeof r.isBase64Encoded !== 'boolean')
    return { ok: false, reason: 'isBase64Encoded is not a boolean' };
  const text = typeof r.body === 'string' ? r.body : '';
  return { ok: true, status, headers, body: r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}

function requestTime(ms: number): string {
  const d = new Date(ms);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * Starts the emulated API on 127.0.0.1 (a free port). Requests go to `<url><path>` (the URL
 * holds the stage, as the execute-api URL does).
 *
 * @example
 * const gw = await startApiGateway({ template, invoke, identities: { AKID: { secretAccessKey, arn } }, region: 'eu-west-1' });
 * const client = new AegisClient({ baseUrl: gw.url, sigv4: { region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey }) } });
 */
export async function startApiGateway(opts: ApiGatewayOptions): Promise<RunningApiGateway> {
  const api = readRestApi(opts.template, {
    ...(opts.restApiLogicalId && { restApiLogicalId: opts.restApiLogicalId }),
    ...(opts.stage && { stage: opts.stage }),
  });
  const accountId = opts.accountId ?? '123456789012';
  const timeoutMs = opts.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
  const limit = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((line: string) => console.error(line));
  const domainName = `${api.apiId}.execute-api.${opts.region}.amazonaws.com`;
  const deploymentId = shortId(`deployment:${api.apiId}`, 6);

  const send = (res: ServerResponse, status: number, headers: [string, string][], body: Buffer) => {
    if (res.headersSent) return;
    const flat: string[] = [];
    for (const [k, v] of headers) flat.push(k, v);
    res.writeHead(status, flat);
    res.end(body);
  };

  const gatewayResponse = (
    res: ServerResponse,
    ctx: RequestContextLite,
    type: GatewayResponseType,
    message?: string,
    errorType?: string,
  ) => {
    const d = DEFAULTS[type];
    const msg = message ?? d.message;
    const custom = api.gatewayResponses.get(type) ?? api.gatewayResponses.get(d.family);
    const familyStatus = api.gatewayResponses.get(d.family)?.statusCode;
    const status = api.gatewayResponses.get(type)?.statusCode ?? familyStatus ?? d.status;
    let contentType = 'application/json';
    let body = JSON.stringify({ message: msg });
    if (custom && Object.keys(custom.templates).length) {
      contentType = 'application/json' in custom.templates ? 'application/json' : Object.keys(custom.templates)[0]!;
      body = renderTemplate(custom.templates[contentType]!, ctx, type, msg);
    }
    const headers: [string, string][] = [
      ['Content-Type', contentType],
      ['x-amzn-RequestId', ctx.requestId],
      ['x-amzn-ErrorType', errorType ?? d.errorType],
      ['x-amz-apigw-id', ctx.extendedRequestId],
      ...Object.entries(custom?.headers ?? {}),
    ];
    send(res, status, headers, Buffer.from(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = now();
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawFullPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const rawQuery = q >= 0 ? rawUrl.slice(q + 1) : '';
    const ctx: RequestContextLite = {
      requestId,
      extendedRequestId: randomBytes(6).toString('base64url').slice(0, 8) + '=',
      stage: api.stage,
      httpMethod: method,
      path: rawFullPath,
      sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    };

    const body = await readBody(req, limit);
    if (!body) {
      gatewayResponse(res, ctx, 'REQUEST_TOO_LARGE');
      return;
    }

    // The stage, then the resource and method (an unknown route is 403 "Missing Authentication Token").
    const stagePrefix = `/${api.stage}`;
    if (rawFullPath !== stagePrefix && !rawFullPath.startsWith(`${stagePrefix}/`)) {
      send(
        res,
        403,
        [
          ['Content-Type', 'application/json'],
          ['x-amzn-RequestId', requestId],
          ['x-amzn-ErrorType', 'ForbiddenException'],
        ],
        Buffer.from(JSON.stringify({ message: 'Forbidden' })),
      );
      return;
    }
    const rawPath = rawFullPath.slice(stagePrefix.length) || '/';
    const segments = rawPath.split('/').slice(1);
    if (segments.length && segments[segments.length - 1] === '') segments.pop();
    const match = matchResource(api.root, segments);
    const def = match && (match.node.methods.get(method) ?? match.node.methods.get('ANY'));
    if (!match || !def) {
      gatewayResponse(res, ctx, 'MISSING_AUTHENTICATION_TOKEN');
      return;
    }
    ctx.resourcePath = def.path;
    const headerPairs = collectHeaders(req);
    const query = new URLSearchParams(rawQuery);

    // IAM authorization.
    let caller: { accessKeyId: string; identity: IamIdentity } | undefined;
    if (def.authorizationType === 'AWS_IAM') {
      const outcome = await verifySigV4(
        { method, rawPath: rawFullPath, query, headers: headerPairs, body },
        { identities: opts.identities, region: opts.region, now: now() },
      );
      if (!outcome.ok) {
        gatewayResponse(res, ctx, outcome.type, outcome.message, outcome.errorType);
        return;
      }
      caller = outcome;
    }

    // Request validation.
    const headerValue = (name: string) => headerPairs.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
    if (def.validateParameters) {
      const missing = def.requiredParameters.filter((p) =>
        p.location === 'path'
          ? !match.pathParameters[p.name]
          : p.location === 'querystring'
            ? !query.get(p.name)
            : !headerValue(p.name).some((v) => v.trim() !== ''),
      );
      if (missing.length) {
        gatewayResponse(
          res,
          ctx,
          'BAD_REQUEST_PARAMETERS',
          `Missing required request parameters: [${missing.map((p) => p.name).join(', ')}]`,
        );
        return;
      }
    }
    const contentType = (headerValue('content-type')[0] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    if (def.validateBody) {
      const schema = def.requestModels[contentType] ?? def.requestModels.$default;
      if (schema) {
        let parsed: unknown;
        let errors: string[];
        try {
          parsed = JSON.parse(body.toString('utf8'));
          errors = validateSchema(schema, parsed);
        } catch {
          errors = ['Invalid request body'];
        }
        if (errors.length) {
          gatewayResponse(
            res,
            ctx,
            'BAD_REQUEST_BODY',
            errors[0] === 'Invalid request body' ? 'Invalid request body' : `[${errors.join(', ')}]`,
          );
          return;
        }
      }
    }

    // The proxy event.
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    const addHeader = (k: string, v: string) => {
      const existing = Object.keys(headers).find((h) => h.toLowerCase() === k.toLowerCase()) ?? k;
      headers[existing] = v;
      (multiValueHeaders[existing] ??= []).push(v);
    };
    for (const [k, v] of headerPairs) addHeader(k, v);
    const traceId = `Root=1-${Math.floor(started / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
    addHeader('X-Amzn-Trace-Id', traceId);
    addHeader('X-Forwarded-For', ctx.sourceIp);
    addHeader('X-Forwarded-Port', String(req.socket.localPort ?? 80));
    addHeader('X-Forwarded-Proto', 'http');
    const queryStringParameters: Record<string, string> = {};
    const multiValueQueryStringParameters: Record<string, string[]> = {};
    for (const [k, v] of query) {
      queryStringParameters[k] = v;
      (multiValueQueryStringParameters[k] ??= []).push(v);
    }
    const isBinary = body.length > 0 && api.binaryMediaTypes.some((t) => mediaTypeMatches(t, contentType));
    const identity = caller
      ? {
          accessKey: caller.accessKeyId,
          accountId: caller.identity.arn.split(':')[4] ?? null,
          caller: principalIdFor(caller.identity),
          user: principalIdFor(caller.identity),
          userArn: caller.identity.arn,
        }
      : { accessKey: null, accountId: null, caller: null, user: null, userArn: null };
    const event = {
      resource: def.path,
      path: rawPath,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: Object.keys(queryStringParameters).length ? queryStringParameters : null,
      multiValueQueryStringParameters: Object.keys(multiValueQueryStringParameters).length ? multiValueQueryStringParameters : null,
      pathParameters: Object.keys(match.pathParameters).length ? match.pathParameters : null,
      stageVariables: null,
      requestContext: {
        resourceId: shortId(`resource:${def.resourceId}`, 6),
        resourcePath: def.path,
        httpMethod: method,
        extendedRequestId: ctx.extendedRequestId,
        requestTime: requestTime(started),
        path: rawFullPath,
        accountId,
        protocol: `HTTP/${req.httpVersion}`,
        stage: api.stage,
        domainPrefix: api.apiId,
        requestTimeEpoch: started,
        requestId,
        identity: {
          cognitoIdentityPoolId: null,
          cognitoIdentityId: null,
          apiKey: null,
          apiKeyId: null,
          principalOrgId: null,
          cognitoAuthenticationType: null,
          cognitoAuthenticationProvider: null,
          clientCert: null,
          sourceIp: ctx.sourceIp,
          userAgent: headerValue('user-agent')[0] ?? null,
          ...identity,
        },
        domainName,
        deploymentId,
        apiId: api.apiId,
      },
      body: body.length === 0 ? null : isBinary ? body.toString('base64') : body.toString('utf8'),
      isBase64Encoded: isBinary,
    } as unknown as APIGatewayProxyEvent;

    // The integration.
    let timer: NodeJS.Timeout | undefined;
    let result: unknown;
    try {
      result = await Promise.race([
        opts.invoke(def.functionLogicalId, event),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('integration timeout'), { integrationTimeout: true })), timeoutMs);
        }),
      ]);
    } catch (e) {
      if ((e as { integrationTimeout?: boolean }).integrationTimeout) gatewayResponse(res, ctx, 'INTEGRATION_TIMEOUT');
      else {
        log(
          `[api-gateway] ${method} ${rawPath} → ${def.functionLogicalId} failed (Lambda function error → 502): ${(e as Error)?.stack ?? String(e)}`,
        );
        gatewayResponse(res, ctx, 'DEFAULT_5XX');
      }
      return;
    } finally {
      clearTimeout(timer);
    }
    const checked = checkProxyResult(result);
    if (!checked.ok) {
      log(`[api-gateway] ${method} ${rawPath} → ${def.functionLogicalId}: Malformed Lambda proxy response (${checked.reason}) → 502`);
      gatewayResponse(res, ctx, 'DEFAULT_5XX');
      return;
    }
    const out = checked.headers;
    if (!out.some(([k]) => k.toLowerCase() === 'content-type')) out.push(['Content-Type', 'application/json']);
    out.push(['x-amzn-RequestId', requestId], ['x-amz-apigw-id', ctx.extendedRequestId], ['X-Amzn-Trace-Id', traceId]);
    send(res, checked.status, out, checked.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`[api-gateway] emulator error: ${(e as Error)?.stack ?? String(e)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `API Gateway emulator error: ${(e as Error)?.message ?? String(e)}` }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/${api.stage}/`,
    routes: api.routes.map((r) => ({ ...r })),
    apiId: api.apiId,
    stage: api.stage,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
