/**
 * The parts of scripts/canary_check.sh and scripts/e2e_promotion_flow.sh a shell does badly:
 *
 *   tsx scripts/canary-sim.ts shuffle-labels SRC_DIR DST_DIR SEED
 *     a copy of a dataset folder's train.csv with its label column permuted by a seeded
 *     Fisher–Yates shuffle (lib/clients/training/prng.ts): the same bytes every run. A model
 *     trained on it has learnt nothing, the regression the canary judge must catch.
 *   tsx scripts/canary-sim.ts traffic --model M --env E --promotion PID --tag T --data CSV
 *     deterministic synthetic traffic against the local server (AEGIS_URL; predictions and
 *     feedback as AEGIS_INVOKER_TOKEN, the promotion read as AEGIS_TOKEN):
 *     single-row predictions of the CSV's rows in order, request ids `<tag>-<i>`, four clients
 *     at once, each prediction's true label sent back as feedback in batches of 25, until the
 *     promotion settles. Prints one JSON line: the promotion's status, requests and labels
 *     sent per variant, and the artifacts that answered.
 *
 * Exit 1 on any failed request (the scripts assert the rest).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrng } from '../lib/clients/training/prng.js';

const fail = (msg: string): never => {
  process.stderr.write(`canary-sim: ${msg}\n`);
  process.exit(1);
};

function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const [head, ...lines] = text.trim().split('\n');
  return { header: head!.split(','), rows: lines.map((l) => l.split(',')) };
}

async function shuffleLabels(src: string, dst: string, seed: number): Promise<void> {
  const { header, rows } = parseCsv(await readFile(join(src, 'train.csv'), 'utf8'));
  const col = header.indexOf('label');
  if (col < 0) fail(`${src}/train.csv has no label column`);
  const labels = createPrng(seed).shuffle(rows.map((r) => r[col]!));
  const out = rows.map((r, i) => r.map((v, j) => (j === col ? labels[i]! : v)).join(','));
  await mkdir(dst, { recursive: true });
  await writeFile(join(dst, 'train.csv'), `${[header.join(','), ...out].join('\n')}\n`);
}

interface TrafficOpts {
  model: string;
  env: string;
  promotion: string;
  tag: string;
  data: string;
  max: number;
}

async function traffic(o: TrafficOpts): Promise<void> {
  const url = process.env.AEGIS_URL ?? fail('AEGIS_URL is not set');
  const bearer = (name: string) => ({
    authorization: `Bearer ${process.env[name] ?? fail(`${name} is not set`)}`,
    'content-type': 'application/json',
  });
  const [headers, reader] = [bearer('AEGIS_INVOKER_TOKEN'), bearer('AEGIS_TOKEN')];
  const { header, rows } = parseCsv(await readFile(o.data, 'utf8'));
  const col = header.indexOf('label');
  const features = header.filter((_, j) => j !== col);
  const base = `${url}/v1/serving/${encodeURIComponent(o.model)}/${encodeURIComponent(o.env)}`;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${base}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = (await r.json()) as Record<string, unknown>;
    if (r.status >= 300) fail(`${path} answered ${r.status}: ${JSON.stringify(json)}`);
    return json;
  };
  const promotionStatus = async () => {
    const r = await fetch(`${url}/v1/promotions/${o.promotion}`, { headers: reader });
    if (r.status !== 200) fail(`GET /v1/promotions/${o.promotion} answered ${r.status}`);
    return ((await r.json()) as { status: string }).status;
  };
  const sent = { stable: 0, canary: 0 };
  const artifacts = { stable: new Set<string>(), canary: new Set<string>() };
  let labels = 0;
  let status = await promotionStatus();
  let n = 0;
  const client = async () => {
    let pending: { requestId: string; label: string }[] = [];
    while (status === 'rolling_out' && n < o.max) {
      const i = n++;
      const row = rows[i % rows.length]!;
      const requestId = `${o.tag}-${i}`;
      const inputs = [Object.fromEntries(features.map((f) => [f, Number(row[header.indexOf(f)])]))];
      const r = (await post('predict', { requestId, inputs })) as { variant: 'stable' | 'canary'; artifactId: string };
      sent[r.variant] += 1;
      artifacts[r.variant].add(r.artifactId);
      pending.push({ requestId, label: row[col]! });
      if (pending.length === 25) {
        await post('feedback', { items: pending });
        labels += pending.length;
        pending = [];
        status = await promotionStatus();
      }
    }
    if (pending.length) await post('feedback', { items: pending });
    labels += pending.length;
  };
  await Promise.all([client(), client(), client(), client()]);
  // the promotion may still be writing its last step when the cap stops the traffic
  for (let t = 0; status === 'rolling_out' && t < 100; t++) {
    await new Promise((r) => setTimeout(r, 200));
    status = await promotionStatus();
  }
  process.stdout.write(
    `${JSON.stringify({ status, requests: sent, labels, artifacts: { stable: [...artifacts.stable], canary: [...artifacts.canary] } })}\n`,
  );
}

function flag(args: string[], name: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fail(`--${name} is required`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'shuffle-labels' && args.length === 3) await shuffleLabels(args[0]!, args[1]!, Number(args[2]));
else if (cmd === 'traffic')
  await traffic({
    model: flag(args, 'model'),
    env: flag(args, 'env'),
    promotion: flag(args, 'promotion'),
    tag: flag(args, 'tag'),
    data: flag(args, 'data'),
    max: args.includes('--max') ? Number(flag(args, 'max')) : 20_000,
  });
else fail('usage: canary-sim.ts shuffle-labels SRC DST SEED | traffic --model M --env E --promotion PID --tag T --data CSV [--max N]');
