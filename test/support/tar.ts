import { gzipSync } from 'fflate';
import { pack } from 'tar-stream';

/** A gzipped tar of these files (name → text), as an artifact's bytes. */
export async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, body] of Object.entries(files)) p.entry({ name }, body);
  p.finalize();
  await done;
  return Buffer.from(gzipSync(Buffer.concat(chunks)));
}
