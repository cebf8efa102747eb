import { readdir, readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { verifyBundle } from '../../kernel/lineage-bundle.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import type { BundleReply, LineageReply } from '../../platform/http/schemas.js';
import { hashArtifact } from '../../kernel/artifact-baseline.js';
import { CliError, readJsonFile, type CliContext } from './context.js';

/** lineage, export-lineage, verify-bundle (offline). */
export function lineageCommands(program: Command, ctx: CliContext): void {
  program
    .command('lineage <artifactId>')
    .description('artifact → manifest → datasets → code → container')
    .action(async (id: string) => {
      const l = await (await ctx.client()).request<LineageReply>('GET', `/v1/lineage/${encodeURIComponent(id)}`);
      ctx.out(
        [
          `${l.artifact.modelName} v${l.artifact.version}  ${l.artifact.artifactId}`,
          `  sha256     ${l.artifact.sha256}`,
          `  manifest   ${l.manifest.manifestSha256} (signed by ${l.manifest.signerId})`,
          ...l.datasets.map((d) => `  dataset    ${d.id}@${d.version}  ${d.checksum}  ${d.uri ?? ''}`),
          `  code       ${l.code.codeRef}`,
          `  container  ${l.container.digest}`,
          ...(l.parent
            ? [`  retrained from ${l.parent.artifactId}${l.parent.suggestionId ? ` (suggestion ${l.parent.suggestionId})` : ''}`]
            : []),
        ].join('\n'),
        l,
      );
    });

  program
    .command('export-lineage')
    .description('write a signed, self-contained lineage bundle that verify-bundle checks offline')
    .requiredOption('--artifact-id <id>', 'the artifact')
    .requiredOption('--out <dir>', 'an empty or new folder')
    .action(async (o: { artifactId: string; out: string }) => {
      const existing = await readdir(o.out).catch(() => [] as string[]);
      if (existing.length) throw new CliError(`${o.out} is not empty`, 2);
      const { files } = await (await ctx.client()).request<BundleReply>('GET', `/v1/lineage/${encodeURIComponent(o.artifactId)}/bundle`);
      await mkdir(o.out, { recursive: true });
      for (const [name, text] of Object.entries(files)) {
        if (!/^[a-z.]+\.json$/.test(name)) throw new CliError(`server sent an unexpected bundle file name ${JSON.stringify(name)}`);
        await writeFile(join(o.out, name), text, { flag: 'wx' });
      }
      ctx.out(
        `exported ${Object.keys(files).length} files to ${o.out}\n  verify offline: aegis verify-bundle ${o.out} --trusted-keys keys.json`,
        { out: o.out, files: Object.keys(files) },
      );
    });

  program
    .command('verify-bundle <dir>')
    .description('verify a lineage bundle offline (no server): file hashes, signatures, signers, datasets')
    .option('--trusted-keys <file>', 'the key ring to trust (GET /v1/keys output); default: the bundle keys.json, reported as unpinned')
    .option('--artifact <file>', 'also check the artifact bytes (and its baseline.json when the manifest pins baselineSha256)')
    .option('--baseline <file>', "also check a drift baseline file against the signed manifest's baselineSha256")
    .action(async (dir: string, o: { trustedKeys?: string; artifact?: string; baseline?: string }) => {
      const names = await readdir(dir).catch(() => {
        throw new CliError(`cannot read bundle folder ${dir}`, 2);
      });
      const files = new Map<string, Buffer>();
      for (const name of names) {
        if ((await stat(join(dir, name))).isFile()) files.set(name, await readFile(join(dir, name)));
        else files.set(name, Buffer.alloc(0));
      }
      let trustedKeys: KeyRecord[] | undefined;
      if (o.trustedKeys) {
        const raw = readJsonFile(o.trustedKeys, 'trusted keys') as { keys?: KeyRecord[] };
        trustedKeys = Array.isArray(raw) ? (raw as KeyRecord[]) : raw.keys;
        if (!Array.isArray(trustedKeys)) throw new CliError(`${o.trustedKeys}: expected the GET /v1/keys reply or an array of keys`, 2);
      }
      const artifact = o.artifact
        ? await hashArtifact(createReadStream(o.artifact, { highWaterMark: 1024 * 1024 }), { baseline: true })
        : undefined;
      const baseline = o.baseline
        ? {
            path: o.baseline,
            bytes: await readFile(o.baseline).catch(() => {
              throw new CliError(`cannot read baseline file ${o.baseline}`, 2);
            }),
          }
        : undefined;
      const report = verifyBundle(files, {
        ...(trustedKeys ? { trustedKeys } : {}),
        ...(artifact ? { artifact } : {}),
        ...(baseline ? { baseline } : {}),
      });
      const lines = [`${report.ok ? 'VERIFIED' : 'FAILED'}  bundle for ${report.artifactId ?? '?'}`];
      for (const c of report.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.reason ? `: ${c.reason}` : ''}`);
      lines.push(
        report.trust.pinned
          ? '  trust: signing keys pinned by --trusted-keys'
          : '  trust: keys taken from the bundle itself; pass --trusted-keys to pin them',
      );
      for (const k of report.trust.keys) lines.push(`    ${k.kid} ${k.publicKey}`);
      ctx.out(lines.join('\n'), report);
      if (!report.ok) process.exitCode = 1;
    });
}
