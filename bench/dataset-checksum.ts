/**
 * Dataset checksum throughput on a folder of 16 MiB files, against one `openssl dgst -sha256`
 * over the same files (the reference; `sha256sum` is slow here, see TOOLCHAIN.md). Never asserts.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { datasetChecksum } from '../lib/clients/training/dataset-checksum.js';
import { MemorySampler } from './memory.js';
import { opensslSha256, writeRandomFile, WRITE_CHUNK } from './files.js';
import { envInt, mbPerS, mib, ratio, seconds, table } from './stats.js';
import { removeTree, tempDir } from './stack.js';

const FILE_BYTES = 16 * 1024 ** 2;

export const datasetOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({ sizeMiB: envInt('BENCH_DATASET_MB', 1024, env) });

/**
 * Builds a BENCH_DATASET_MB (default 1024) MiB folder of 16 MiB random files, times openssl and
 * then `datasetChecksum` over it (page cache warm for both), prints a table and removes the folder.
 */
export async function datasetChecksumBench(
  opts = datasetOptionsFromEnv(),
  print: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): Promise<void> {
  const bytes = opts.sizeMiB * 1024 ** 2;
  const count = Math.ceil(bytes / FILE_BYTES);
  print(`\n== 3. Dataset checksum: a ${opts.sizeMiB} MiB folder of ${count} files of up to 16 MiB, page cache warm ==`);
  const dir = await tempDir('dataset');
  try {
    const files: string[] = [];
    let t = performance.now();
    const buf = Buffer.allocUnsafe(WRITE_CHUNK);
    for (let i = 0; i < count; i++) {
      files.push(join(dir, `part-${String(i).padStart(4, '0')}.bin`));
      await writeRandomFile(files[i]!, Math.min(FILE_BYTES, bytes - i * FILE_BYTES), buf);
    }
    print(`   wrote ${mib(bytes)} of random bytes in 8 MiB chunks in ${seconds(performance.now() - t)} (setup, not measured)`);

    const openssl = await opensslSha256(files);
    const mem = new MemorySampler(50);
    t = performance.now();
    const ours = await datasetChecksum(dir);
    const oursMs = performance.now() - t;
    const m = mem.stop();
    // Files are named so that openssl's argument order is also the listing's byte order.
    if ('digests' in openssl && openssl.digests.some((d, i) => d !== ours.files[i]?.sha256))
      throw new Error('openssl and datasetChecksum disagree on a file sha256');

    const ref = 'ms' in openssl ? openssl.ms : undefined;
    const row = (label: string, msValue: number) => [
      label,
      seconds(msValue),
      mbPerS(bytes, msValue).toFixed(0),
      ref === undefined ? 'n/a' : ratio(ref / msValue),
    ];
    print('');
    print(
      table(
        ['measurement (MB = 10^6 bytes)', 'time', 'MB/s', 'vs openssl'],
        [
          ...(ref === undefined ? [] : [row(`openssl dgst -sha256 (${count} files, one spawn)`, ref)]),
          row('datasetChecksum (2 files at a time, 1 MiB reads)', oursMs),
        ],
      ),
    );
    if (ref === undefined) print(`   openssl reference skipped: ${(openssl as { skipped: string }).skipped}`);
    else print(`   ours / openssl throughput = ${ratio(ref / oursMs)}; per-file sha256 agreed on all ${count} files`);
    print(
      `   ${ours.checksum.slice(0, 23)}…; RSS ${mib(m.rssBefore)} before, sampled peak ${mib(m.rssPeak)} (+${mib(m.rssPeak - m.rssBefore)} for ${mib(bytes)} hashed)`,
    );
  } finally {
    await removeTree(dir);
  }
}
