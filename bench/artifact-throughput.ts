/**
 * A large artifact's registration throughput through the HTTP API (streaming upload hashed by
 * the store as it arrives, registration trusting that sha256), against `openssl dgst -sha256`
 * and a node sha256 of the same file, with peak RSS.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashStream } from '../lib/kernel/hashing.js';
import { hashFile } from '../lib/kernel/file-hash.js';
import { MemorySampler, type MemoryReport } from './memory.js';
import { opensslSha256, writeRandomFile } from './files.js';
import { envInt, mbPerS, mib, ratio, seconds, table } from './stats.js';
import { manifestFor, removeTree, startBenchStack, tempDir, type Registration, type UploadTarget } from './stack.js';

const MODEL = 'bench-artifact';

export const artifactOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({ sizeMiB: envInt('BENCH_ARTIFACT_MB', 1024, env) });

export async function runArtifactThroughput(opts: { sizeMiB: number }, print: (s: string) => void): Promise<void> {
  const bytes = opts.sizeMiB * 1024 ** 2;
  print(`\n== 2. Artifact throughput: one ${opts.sizeMiB} MiB artifact (${bytes} bytes), page cache warm ==`);
  const dir = await tempDir('artifact');
  try {
    const file = join(dir, 'artifact.bin');
    let t = performance.now();
    await writeRandomFile(file, bytes);
    print(`   wrote ${mib(bytes)} of random bytes in 8 MiB chunks in ${seconds(performance.now() - t)} (setup, not measured)`);

    const ran = await opensslSha256([file]);
    const openssl = 'digests' in ran ? { sha256: ran.digests[0]!, ms: ran.ms } : ran;
    t = performance.now();
    const local = await hashStream(createReadStream(file, { highWaterMark: 1024 * 1024 }));
    const nodeMs = performance.now() - t;
    t = performance.now();
    const viaFile = await hashFile(file);
    const fileMs = performance.now() - t;
    if (viaFile.sha256 !== local.sha256) throw new Error(`hashFile and a read stream disagree: ${viaFile.sha256} vs ${local.sha256}`);
    if ('sha256' in openssl && openssl.sha256 !== local.sha256)
      throw new Error(`openssl and node disagree on the sha256: ${openssl.sha256} vs ${local.sha256}`);

    const stack = await startBenchStack();
    try {
      let readAllAt: number | undefined;
      const mem = new MemorySampler(100);
      let uploadMs: number, registerMs: number, reg: Registration, m: MemoryReport;
      const t0 = performance.now();
      try {
        // with the sha256, as `aegis register` sends it: the URL takes only these bytes
        const up = await stack.publisher.request<UploadTarget>('POST', '/v1/registry/uploads', {
          modelName: MODEL,
          size: bytes,
          sha256: local.sha256,
        });
        // onProgress counts bytes read from the file into the request body, not bytes sent.
        await stack.publisher.uploadFile(
          up.url,
          up.headers,
          file,
          (read, total) => void (read === total && (readAllAt ??= performance.now())),
        );
        const t1 = performance.now();
        reg = await stack.publisher.request<Registration>('POST', '/v1/registry/register', {
          uploadId: up.uploadId,
          manifest: manifestFor(MODEL, local.sha256, bytes),
        });
        uploadMs = t1 - t0;
        registerMs = performance.now() - t1;
      } finally {
        m = mem.stop();
      }
      if (reg.replayed) throw new Error('the artifact registration was a replay');
      if (reg.sha256 !== local.sha256) throw new Error(`the server stored sha256 ${reg.sha256}, the file has ${local.sha256}`);
      const regMs = uploadMs + registerMs;
      const ref = 'sha256' in openssl ? openssl.ms : undefined;
      const row = (label: string, msValue: number) => [
        label,
        seconds(msValue),
        mbPerS(bytes, msValue).toFixed(0),
        ref === undefined ? 'n/a' : ratio(ref / msValue),
        ratio(nodeMs / msValue),
      ];
      print('');
      print(
        table(
          ['measurement (MB = 10^6 bytes)', 'time', 'MB/s', 'vs openssl', 'vs node sha256'],
          [
            ...(ref === undefined ? [] : [row('openssl dgst -sha256 (reference)', ref)]),
            row('node sha256, 1 MiB reads (2nd reference)', nodeMs),
            row("hashFile (the CLI's: two reused 1 MiB buffers)", fileMs),
            row('registration via HTTP API: upload + register', regMs),
            row('  upload (AegisClient.uploadFile, streamed, hashed by the store)', uploadMs),
            row('  register (sha256 recorded by the upload, signs)', registerMs),
            row('CLI end-to-end: local sha256 (hashFile) + upload + register', fileMs + regMs),
          ],
        ),
      );
      print('   "vs" columns are throughput ratios: MB/s of the row / MB/s of the reference (1.00× = as fast)');
      if ('skipped' in openssl) print(`   openssl reference skipped: ${openssl.skipped}`);
      else print(`   registration throughput / openssl throughput = ${ratio(ref! / regMs)}`);
      print(
        `   registered ${MODEL} v${reg.version}; sha256 ${local.sha256.slice(0, 16)}… agreed between ${ref === undefined ? '' : 'openssl, '}node and the server`,
      );
      const grew = m.rssPeak - m.rssBefore;
      print('');
      print(`   memory of this process (server and client in-process) during the registration; the artifact is ${mib(bytes)}:`);
      print(
        `     RSS ${mib(m.rssBefore)} before, sampled peak ${mib(m.rssPeak)} (+${mib(grew)}, ${((grew / bytes) * 100).toFixed(0)}% of the artifact; ${m.samples} samples every 100 ms)`,
      );
      print(`     ArrayBuffers ${mib(m.arrayBuffersBefore)} before, peak ${mib(m.arrayBuffersPeak)} (includes buffers not yet collected)`);
      print(
        `     process.resourceUsage().maxRSS (whole process life, incl. database and earlier benches): ${mib(m.maxRssBefore)} before, ${mib(m.maxRssAfter)} after`,
      );
      if (readAllAt !== undefined)
        print(`     the client had read the whole file ${seconds(readAllAt - t0)} into the ${seconds(uploadMs)} upload`);
      print(
        grew < Math.min(256 * 1024 ** 2, bytes / 4)
          ? `     => bounded: RSS grew by ${mib(grew)} for a ${mib(bytes)} artifact, so it was streamed, not buffered whole`
          : `     => NOT bounded: RSS grew by ${mib(grew)} for a ${mib(bytes)} artifact; memory scales with the artifact, so much of it was held in memory at once`,
      );
    } finally {
      await stack.close();
    }
  } finally {
    await removeTree(dir);
  }
}
