/**
 * Sends the parts of a multipart upload several at a time, each retried within the run on a
 * network error or a 5xx/429 answer, a part URL that expired asked for again: what
 * {@link uploadParts} does once the upload and its missing parts are known.
 */
import { hashFile } from '../../kernel/file-hash.js';
import { ApiError, type AegisClient, type Progress } from './client.js';
import type { UploadPartsReply } from '../../platform/http/schemas.js';

/** Part URLs asked for at once: each is valid for the upload URL lifetime (an hour by default), so never too many ahead. */
const PARTS_PER_REQUEST = 8;
/** How often one part's expired URL is asked for again before the part fails. */
const URL_REFRESHES = 2;

/** How the parts are sent. */
export interface PartSending {
  /** parts in flight at once (AEGIS_UPLOAD_CONCURRENCY, 1–16) @default 4 */
  concurrency?: number | undefined;
  /** attempts of one part (and of one parts-route call) on a network error or a 5xx/429 answer @default 3 */
  attempts?: number | undefined;
  /** the delay before the first retry; each next one doubles, less up to half at random @default 500 */
  backoffMs?: number | undefined;
}

export const DEFAULT_UPLOAD_CONCURRENCY = 4;
export const MAX_UPLOAD_CONCURRENCY = 16;

/** One part to send: its number and where its bytes are in the file. */
export interface PlannedPart {
  partNumber: number;
  start: number;
  size: number;
}

type HashedPart = PlannedPart & { sha256: string };
type PartUrl = UploadPartsReply['parts'][number];

/** Worth another attempt: the request never got an answer, or the server (or S3) failed or throttled. */
const retryable = (e: unknown) => e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500);

/** The part's URL expired before it was used: 410 UPLOAD_EXPIRED from the local server, S3's 403 "Request has expired". */
const urlExpired = (e: unknown) =>
  e instanceof ApiError &&
  ((e.status === 410 && e.code === 'UPLOAD_EXPIRED') || (e.status === 403 && /request has expired/i.test(e.message)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same error, its message naming the part. */
const partError = (e: unknown, part: number, count: number) =>
  e instanceof ApiError
    ? new ApiError(e.status, e.code, `part ${part} of ${count}: ${e.message}`, e.field, e.requestId, e.retryAfterSeconds)
    : new Error(`part ${part} of ${count}: ${(e as Error).message}`);

/**
 * Sends `parts` of `file` to the upload `uploadId`, `concurrency` at a time. Each worker claims
 * the next few parts (at most 8, fewer as the rest shrinks, so the workers finish together),
 * hashes them, asks the parts route for their URLs in one call and sends them. A part that fails
 * on the network or with a 5xx/429 is sent again (up to `attempts` in all, with backoff); any
 * other answer (a 4xx such as a sha256 mismatch) fails it at once. After a part failed no new
 * part starts; those in flight finish (the server keeps them for a resumed run), then the first
 * failure is thrown, naming its part. Progress counts the bytes of the finished parts and those
 * in flight, so a part sent again counts once.
 */
export async function sendParts(
  api: AegisClient,
  o: PartSending & {
    uploadId: string;
    file: string;
    /** the whole file's size, and how much of it the upload already has */
    size: number;
    alreadySent: number;
    partCount: number;
    parts: readonly PlannedPart[];
    onProgress?: Progress | undefined;
  },
): Promise<void> {
  const concurrency = o.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  const attempts = o.attempts ?? 3;
  const backoffMs = o.backoffMs ?? 500;
  const path = `/v1/registry/uploads/${encodeURIComponent(o.uploadId)}/parts`;

  let done = o.alreadySent;
  let inFlight = 0;
  const sentOf = new Map<number, number>();
  const inFlightOf = (partNumber: number, sent: number) => {
    inFlight += sent - (sentOf.get(partNumber) ?? 0);
    sentOf.set(partNumber, sent);
  };
  const progress = (partNumber: number, sent: number) => {
    inFlightOf(partNumber, sent);
    o.onProgress?.(done + inFlight, o.size);
  };

  /** `fn` again after a network error or a 5xx/429, up to `attempts` in all. */
  async function withRetries<T>(fn: () => Promise<T>, onRetry?: () => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!retryable(e) || attempt >= attempts) throw e;
        onRetry?.();
        await sleep(backoffMs * 2 ** (attempt - 1) * (1 - Math.random() / 2));
      }
    }
  }

  const ask = async (parts: readonly HashedPart[]): Promise<Map<number, PartUrl>> => {
    const body = { parts: parts.map(({ partNumber, size, sha256 }) => ({ partNumber, size, sha256 })) };
    const reply = await withRetries(() => api.request<UploadPartsReply>('POST', path, body));
    return new Map(reply.parts.map((p) => [p.partNumber, p]));
  };

  async function send(part: HashedPart, url: PartUrl): Promise<void> {
    let target = url;
    for (let refreshed = 0; ; refreshed++) {
      try {
        const upload = () => api.uploadFile(target.url, target.headers, o.file, (sent) => progress(part.partNumber, sent), part);
        // a failed attempt's bytes are no longer in flight
        await withRetries(upload, () => progress(part.partNumber, 0));
        break;
      } catch (e) {
        progress(part.partNumber, 0);
        if (!urlExpired(e) || refreshed >= URL_REFRESHES) throw e;
        target = (await ask([part])).get(part.partNumber)!;
      }
    }
    // its bytes move from in flight to done: no dip in what is reported
    inFlightOf(part.partNumber, 0);
    done += part.size;
    o.onProgress?.(done + inFlight, o.size);
  }

  let next = 0;
  let failure: { error: unknown } | undefined;
  const claim = (): PlannedPart[] => {
    if (failure) return [];
    const take = Math.min(PARTS_PER_REQUEST, Math.max(1, Math.ceil((o.parts.length - next) / concurrency)));
    const group = o.parts.slice(next, next + take);
    next += group.length;
    return group;
  };
  const worker = async () => {
    for (let group = claim(); group.length; group = claim()) {
      const hashed: HashedPart[] = [];
      for (const p of group) {
        hashed.push({ ...p, sha256: (await hashFile(o.file, { start: p.start, size: p.size })).sha256 });
      }
      // a refusal here is about the upload (gone, expired, registered), not a part
      const urls = await ask(hashed);
      for (const p of hashed) {
        if (failure) return;
        await send(p, urls.get(p.partNumber)!).catch((e: unknown) => {
          throw partError(e, p.partNumber, o.partCount);
        });
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, o.parts.length) }, () =>
      worker().catch((e: unknown) => {
        failure ??= { error: e };
      }),
    ),
  );
  if (failure) throw failure.error;
}
