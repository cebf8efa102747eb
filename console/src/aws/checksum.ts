/**
 * SHA-256 and HMAC-SHA-256 over WebCrypto, in the shape @smithy/signature-v4 asks for
 * (`new Sha256(secret?)`, `update`, `digest`): the browser's own implementation, no JS hash in
 * the bundle.
 */
import type { Checksum, SourceData } from '@smithy/types';

/** A copy in a fresh ArrayBuffer (what WebCrypto takes). */
const bytes = (data: SourceData): Uint8Array<ArrayBuffer> => {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return new Uint8Array(data).slice();
};

export class WebCryptoSha256 implements Checksum {
  private parts: Uint8Array<ArrayBuffer>[] = [];

  constructor(private readonly secret?: SourceData) {}

  update(data: Uint8Array): void {
    this.parts.push(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    const size = this.parts.reduce((n, p) => n + p.length, 0);
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of this.parts) {
      all.set(p, at);
      at += p.length;
    }
    if (this.secret === undefined) return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
    const key = await crypto.subtle.importKey('raw', bytes(this.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, all));
  }

  reset(): void {
    this.parts = [];
  }
}
