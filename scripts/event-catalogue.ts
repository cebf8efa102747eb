/**
 * `npm run docs:events`: writes the event catalogue (every audit event type and its payload
 * fields, from `EVENT_CATALOGUE`) into README.md between `<!-- event-catalogue:start -->` and
 * `<!-- event-catalogue:end -->`.
 *
 *   tsx scripts/event-catalogue.ts [--check] [readme]     (default: this repository's README.md)
 *
 * `--check` writes nothing: exit 1 when the README's block differs from the catalogue's.
 * Exit 2 when the README lacks the markers.
 * A schema kind the renderer does not know is rendered as its zod `def.type` and warned about.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EVENT_CATALOGUE } from '../lib/modules/catalogue.js';
import { renderCatalogue, replaceBlock } from './event-catalogue-docs.js';

const args = process.argv.slice(2);
const check = args.includes('--check');
const file = args.find((a) => a !== '--check') ?? fileURLToPath(new URL('../README.md', import.meta.url));

const readme = readFileSync(file, 'utf8');
const block = renderCatalogue(EVENT_CATALOGUE, (kind, path) => console.warn(`event-catalogue: ${path}: zod kind ${kind} rendered as is`));
let updated: string;
try {
  updated = replaceBlock(readme, block);
} catch (e) {
  console.error(`${file}: ${(e as Error).message}`);
  process.exit(2);
}
if (updated === readme) console.log(`${file}: the event catalogue is up to date`);
else if (check) {
  console.error(`${file}: the event catalogue is stale: run \`npm run docs:events\``);
  process.exitCode = 1;
} else {
  writeFileSync(file, updated);
  console.log(`${file}: event catalogue rewritten`);
}
