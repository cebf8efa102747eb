/**
 * Tampering behind the registry's back, as an attacker with storage access would: the suites
 * change stored bytes this way to prove that verification notices.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the fs object store of a local stack keeps one version of an object, under the stack's data folder. */
export function storedVersionFile(dataDir: string, version: { key: string; versionId: string }): string {
  return join(dataDir, 'objects', 'keys', ...version.key.split('/'), '@v', `${version.versionId}.bin`);
}

/**
 * Rewrites a file in place with `edit` of its bytes. A stored version is read-only (the fs store
 * writes it 0444): it is made writable for the write, and its mode restored after.
 */
export async function rewriteFile(file: string, edit: (bytes: Buffer) => Buffer | string): Promise<void> {
  const { mode } = await stat(file);
  await chmod(file, mode | 0o200);
  await writeFile(file, edit(await readFile(file)));
  await chmod(file, mode);
}

/**
 * Inverts every bit of the byte at `at` of a file (negative: counted from the end), in place;
 * the file's bytes now.
 *
 * @example
 * await flipByte(storedVersionFile(stack.dataDir, record.storage), 100);
 */
export async function flipByte(file: string, at: number): Promise<Buffer> {
  let flipped: Buffer | undefined;
  await rewriteFile(file, (bytes) => {
    const i = at < 0 ? bytes.length + at : at;
    if (i < 0 || i >= bytes.length) throw new Error(`${file} has no byte ${at} (${bytes.length} bytes)`);
    bytes[i] = bytes[i]! ^ 0xff;
    flipped = bytes;
    return bytes;
  });
  return flipped!;
}
