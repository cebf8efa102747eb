/**
 * `npm run secrets` (part of `npm run lint`, so of `npm test`): secretlint over the files git
 * knows in a work tree — tracked, and untracked but not ignored, so a key is caught before it
 * is committed — minus the reviewed allow-list.
 *
 *   tsx scripts/secrets-scan.ts [dir]     (default: the current directory)
 *
 * Rules: `.secretlintrc.json` of this repository (the recommended preset and
 * scripts/secretlint-rule-aegis.ts). A rule id starting with `./` is a file beside the config:
 * secretlint itself resolves ids as packages only, so plain `npx secretlint` cannot load it.
 * Allow-list: `<dir>/.secretlintignore`, gitignore syntax, matched by git itself.
 * Exit 0: clean; 1: findings (file, line, rule; secrets masked); 2: cannot scan.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSecretLint } from 'secretlint';

const CONFIG = fileURLToPath(new URL('../.secretlintrc.json', import.meta.url));

interface RuleDescriptor {
  id: string;
  [key: string]: unknown;
}

/** The files to scan: what git lists (NUL-separated, so any name survives), less the allow-listed, the deleted and symlinks to folders. */
function filesToScan(dir: string): string[] {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, 'ls-files', '-z', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .split('\0')
      .filter(Boolean);
  const listed = git('--cached', '--others', '--exclude-standard');
  const allowList = join(dir, '.secretlintignore');
  const allowed = new Set(
    existsSync(allowList)
      ? [...git('--cached', '--ignored', `--exclude-from=${allowList}`), ...git('--others', '--ignored', `--exclude-from=${allowList}`)]
      : [],
  );
  return [...new Set(listed)]
    .filter((f) => !allowed.has(f) && statSync(join(dir, f), { throwIfNoEntry: false })?.isFile())
    .map((f) => join(dir, f));
}

/** The config with `./` rule ids made absolute (relative to the config file). */
function loadConfig(): { rules: RuleDescriptor[] } {
  const config = JSON.parse(readFileSync(CONFIG, 'utf8')) as { rules: RuleDescriptor[] };
  return { ...config, rules: config.rules.map((r) => (r.id.startsWith('./') ? { ...r, id: resolve(dirname(CONFIG), r.id) } : r)) };
}

async function main(): Promise<number> {
  const dir = resolve(process.argv[2] ?? '.');
  const files = filesToScan(dir);
  if (files.length === 0) {
    process.stdout.write(`secrets: nothing to scan in ${dir}\n`);
    return 0;
  }
  const result = await runSecretLint({
    cliOptions: { cwd: dir, filePathOrGlobList: files, noGlob: true },
    engineOptions: { cwd: dir, configFileJSON: loadConfig(), formatter: 'stylish', color: false, maskSecrets: true },
  });
  if (result.stdout) process.stdout.write(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
  if (result.exitStatus === 0) process.stdout.write(`secrets: ${files.length} files clean\n`);
  return result.exitStatus === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`secrets: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
