/**
 * Mutual TLS for the REST API on AWS: API Gateway enforces it on a REGIONAL custom domain
 * whose truststore (a PEM bundle of the CAs that sign client certificates) lives in S3.
 * This module holds the plain settings, their checks and how bin/cdk.ts reads them from
 * context; `AegisRestApi` builds the domain from them.
 */

/** A custom domain with mutual TLS in front of the REST API. */
export interface MutualTlsDomain {
  /** The custom domain clients call, lower case: `api.example.com`. */
  readonly domainName: string;
  /**
   * ACM certificate for `domainName`, in the stack's own region (a REGIONAL domain):
   * `arn:aws:acm:region:account:certificate/id`.
   */
  readonly certificateArn: string;
  /** The truststore, a PEM bundle of client CA certificates: `s3://bucket/key.pem`. */
  readonly truststoreUri: string;
  /**
   * S3 version of the truststore object (the bucket must be versioned).
   *
   * @default - the latest version when the domain is created or updated
   */
  readonly truststoreVersion?: string;
}

/** The CDK context key of each {@link MutualTlsDomain} property (bin/cdk.ts). */
export const MUTUAL_TLS_CONTEXT = {
  domainName: 'domainName',
  certificateArn: 'certificateArn',
  truststoreUri: 'mtlsTruststoreUri',
  truststoreVersion: 'mtlsTruststoreVersion',
} as const satisfies Record<keyof MutualTlsDomain, string>;

/** The keys that must all be given (or none) for mutual TLS. */
const REQUIRED = ['domainName', 'certificateArn', 'truststoreUri'] as const satisfies readonly (keyof MutualTlsDomain)[];

/**
 * Reads {@link MUTUAL_TLS_CONTEXT} through `tryGetContext`: `undefined` when none of the
 * keys is given (empty strings count as not given), the settings when all three required
 * ones are, and an error naming the missing context keys otherwise. Shapes are checked by
 * {@link checkMutualTlsDomain} (the stack calls it).
 *
 * @example
 * const mutualTls = mutualTlsFromContext((key) => app.node.tryGetContext(key));
 */
export function mutualTlsFromContext(tryGetContext: (key: string) => unknown): MutualTlsDomain | undefined {
  const values = Object.fromEntries(
    Object.entries(MUTUAL_TLS_CONTEXT).map(([prop, key]) => {
      const value = tryGetContext(key);
      return [prop, value === undefined || value === null || value === '' ? undefined : String(value)];
    }),
  ) as Partial<Record<keyof MutualTlsDomain, string>>;
  if (Object.values(values).every((v) => v === undefined)) return undefined;
  const missing = REQUIRED.filter((prop) => values[prop] === undefined).map((prop) => MUTUAL_TLS_CONTEXT[prop]);
  if (missing.length > 0) {
    throw new Error(`mutual TLS needs context ${missing.join(', ')} as well (or none of ${Object.values(MUTUAL_TLS_CONTEXT).join(', ')})`);
  }
  return {
    domainName: values.domainName!,
    certificateArn: values.certificateArn!,
    truststoreUri: values.truststoreUri!,
    ...(values.truststoreVersion !== undefined && { truststoreVersion: values.truststoreVersion }),
  };
}

const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const CERTIFICATE_ARN = /^arn:aws(-[a-z]+)*:acm:([a-z]{2}(-[a-z]+)+-\d{1,2}):\d{12}:certificate\/[A-Za-z0-9-]{1,128}$/;
const TRUSTSTORE_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^\s]*[^\s/])$/;
const VERSION_ID = /^[A-Za-z0-9._+=/-]{1,1024}$/;

/** What a checked {@link MutualTlsDomain} yields besides itself. */
export interface CheckedMutualTlsDomain {
  /** The region in the certificate ARN. */
  readonly certificateRegion: string;
  readonly truststoreBucket: string;
  readonly truststoreKey: string;
}

/**
 * Checks a {@link MutualTlsDomain}, throwing with what is wrong. `stackRegion` is the
 * stack's region when it is known at synth time (otherwise a CloudFormation rule checks the
 * certificate's region at deploy time).
 */
export function checkMutualTlsDomain(d: MutualTlsDomain, stackRegion?: string): CheckedMutualTlsDomain {
  if (!DOMAIN_NAME.test(d.domainName)) {
    throw new Error(`mTLS domainName ${d.domainName} is not a lower-case DNS name (api.example.com)`);
  }
  const certificate = CERTIFICATE_ARN.exec(d.certificateArn);
  if (!certificate) {
    throw new Error(`mTLS certificateArn ${d.certificateArn} is not an ACM certificate ARN (arn:aws:acm:region:account:certificate/id)`);
  }
  const certificateRegion = certificate[2]!;
  if (stackRegion !== undefined && certificateRegion !== stackRegion) {
    throw new Error(
      `mTLS certificateArn ${d.certificateArn} is in ${certificateRegion}, not in the stack's region ${stackRegion} (a REGIONAL custom domain needs a certificate from its own region)`,
    );
  }
  const truststore = TRUSTSTORE_URI.exec(d.truststoreUri);
  if (!truststore || truststore[1]!.includes('..')) {
    throw new Error(`mTLS truststore ${d.truststoreUri} is not an S3 object URI (s3://bucket/key.pem)`);
  }
  if (d.truststoreVersion !== undefined && !VERSION_ID.test(d.truststoreVersion)) {
    throw new Error(`mTLS truststore version ${d.truststoreVersion} is not an S3 object version id`);
  }
  return { certificateRegion, truststoreBucket: truststore[1]!, truststoreKey: truststore[2]! };
}
