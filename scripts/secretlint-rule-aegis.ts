/**
 * Aegis's own secretlint rule, beside `@secretlint/secretlint-rule-preset-recommend`
 * (`.secretlintrc.json`; run by `npm run secrets`, scripts/secrets-scan.ts). It reports what
 * the preset lets through and Aegis cares about:
 *
 * - `ShortPrivateKey`: a PEM private key whose body is under 100 base64 characters. The
 *   preset's private-key rule wants at least 100 (an RSA or EC key is longer), so it misses
 *   the Ed25519 PKCS#8 keys Aegis writes in dev mode (`-----BEGIN PRIVATE KEY-----` and 64
 *   characters: key files, approver keys, signoff keys).
 * - `AegisToken`: an Aegis bearer token (`aegis_` and 43 base64url characters, 32 random bytes).
 * - `AwsAccessKeyId`: an AWS access key id (`AKIA…` long-term, `ASIA…` temporary) even with no
 *   secret beside it. The preset reports one only next to its secret. Aegis deploys and
 *   publishes through OIDC roles, so a key id in the repository is an IAM user key that should
 *   not exist, and its secret is usually one paste away. AWS's documentation example
 *   (`AKIAIOSFODNN7EXAMPLE`) is not reported.
 *
 * secretlint loads a rule module by its `creator` export; the types below are the part of
 * `@secretlint/types` this rule uses (that package is not a direct dependency).
 */

interface Source {
  readonly content: string;
}
interface Context {
  report(descriptor: { message: string; range: readonly [number, number] }): void;
  createTranslator(messages: typeof MESSAGES): (id: keyof typeof MESSAGES, props: { VALUE: string }) => string;
}

const MESSAGES = {
  ShortPrivateKey: { en: (p: { VALUE: string }) => `found a private key too short for the recommended preset (Ed25519?): ${p.VALUE}` },
  AegisToken: { en: (p: { VALUE: string }) => `found an Aegis bearer token: ${p.VALUE}` },
  AwsAccessKeyId: { en: (p: { VALUE: string }) => `found an AWS access key id (Aegis uses OIDC roles, not IAM user keys): ${p.VALUE}` },
} as const;

// The body may carry JSON-escaped newlines (`\n`) when the key sits inside a JSON string.
const SHORT_PEM =
  /-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----(?:\\[nr]|\s)*([A-Za-z0-9+/=\s\\]{1,200}?)(?:\\[nr]|\s)*-----END (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----/g;
const AEGIS_TOKEN = /(?<![A-Za-z0-9_-])aegis_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
const AWS_ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
const AWS_DOCUMENTATION_EXAMPLE = 'AKIAIOSFODNN7EXAMPLE';

/** A real key body is base64 of a DER structure (`MC…`/`MI…`) or of `openssh-key-v1` (`b3Bl…`); placeholders are not. */
function isShortKeyBody(raw: string): boolean {
  const body = raw.replace(/\\[nr]|\s/g, '');
  return body.length >= 32 && body.length < 100 && /^(?:M[A-Za-z0-9+/]|b3Bl)[A-Za-z0-9+/]*={0,2}$/.test(body);
}

export const creator = {
  messages: MESSAGES,
  meta: {
    id: 'aegis',
    recommended: true,
    type: 'scanner',
    supportedContentTypes: ['text'],
  },
  create(context: Context) {
    const t = context.createTranslator(MESSAGES);
    return {
      file(source: Source) {
        for (const m of source.content.matchAll(SHORT_PEM))
          if (isShortKeyBody(m[1]!))
            context.report({ message: t('ShortPrivateKey', { VALUE: m[0] }), range: [m.index, m.index + m[0].length] });
        for (const m of source.content.matchAll(AEGIS_TOKEN))
          context.report({ message: t('AegisToken', { VALUE: m[0] }), range: [m.index, m.index + m[0].length] });
        for (const m of source.content.matchAll(AWS_ACCESS_KEY_ID))
          if (m[0] !== AWS_DOCUMENTATION_EXAMPLE)
            context.report({ message: t('AwsAccessKeyId', { VALUE: m[0] }), range: [m.index, m.index + m[0].length] });
      },
    };
  },
};
