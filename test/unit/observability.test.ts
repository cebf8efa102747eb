import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { PrometheusMetricsSink } from '../../lib/platform/adapters/metrics/prometheus.js';
import { trainingRegistry } from '../../lib/clients/training/metrics.js';

/**
 * The Grafana dashboard and the Prometheus rules query only series the code registers (no
 * dashboard rot), and the rule file has the shape Prometheus loads. promtool is not installed
 * here (Debian's `prometheus` package brings the whole server): this is the rules check.
 */
interface Rule {
  record?: string;
  alert?: string;
  expr?: unknown;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const dashboard = JSON.parse(readFileSync('observability/grafana/aegis.json', 'utf8'));
const rules = parse(readFileSync('observability/prometheus/rules.yml', 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const allRules = rules.groups.flatMap((g) => g.rules);
const recorded = new Set(allRules.flatMap((r) => (r.record ? [r.record] : [])));

/** Every series name the code registers, as Prometheus sees them (a histogram's _bucket, _sum and _count). */
async function registeredSeries(): Promise<Set<string>> {
  const metrics = [...(await new PrometheusMetricsSink().registry.getMetricsAsJSON()), ...(await trainingRegistry.getMetricsAsJSON())];
  return new Set(
    metrics.flatMap((m) => (String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])),
  );
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'le',
  'inf',
  'nan',
]);

/** The metric (and recorded series) names a PromQL expression reads: identifiers that are not functions, labels or keywords. */
function seriesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\$\w+/g, ' '); // Grafana variables
  return [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])(?!\s*\()/g)]
    .map((m) => m[0])
    .filter((w) => !KEYWORDS.has(w.toLowerCase()) && !/^\d/.test(w) && !/^[smhdwy]$/.test(w));
}

/** Every PromQL expression of the dashboard: panel targets, annotations, variable queries. */
function dashboardExprs(): string[] {
  const panels = dashboard.panels as { type: string; targets?: { expr: string }[] }[];
  const vars = (dashboard.templating.list as { query: { query: string } }[]).map((v) =>
    v.query.query.replace(/^label_values\(([^,]+),.*\)$/, '$1'),
  );
  return [
    ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...(dashboard.annotations.list as { expr?: string }[]).flatMap((a) => (a.expr ? [a.expr] : [])),
    ...vars,
  ];
}

describe('the Grafana dashboard and the Prometheus rules', () => {
  it('extracts series names from PromQL, leaving functions, labels, ranges and keywords out', () => {
    expect(
      seriesIn(
        'histogram_quantile(0.95, sum by (le, env) (rate(a_seconds_bucket{env=~"$env", le="0.5"}[$__rate_interval]))) / b_total offset 10m or c:rec:p95',
      ),
    ).toEqual(['a_seconds_bucket', 'b_total', 'c:rec:p95']);
  });

  it('queries only series the code registers, or the rules record', async () => {
    const known = new Set([...(await registeredSeries()), ...recorded]);
    const exprs = [...dashboardExprs(), ...allRules.map((r) => String(r.expr))];
    const used = new Set(exprs.flatMap(seriesIn));
    expect([...used].filter((n) => !known.has(n))).toEqual([]);
    // and it shows every registered series family at least once
    const families = [...(await registeredSeries())].map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    const missing = [...new Set(families)].filter((f) => ![...used].some((u) => u === f || u.startsWith(`${f}_`)));
    expect(missing).toEqual([]);
    for (const e of exprs) expect(e.split('(').length).toBe(e.split(')').length);
  });

  it('asks for its Prometheus data source on import, and every panel uses it', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const panels = (dashboard.panels as { type: string; title: string; datasource?: { uid: string } }[]).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(15);
    for (const p of panels) expect([p.title, p.datasource?.uid]).toEqual([p.title, '${DS_PROMETHEUS}']);
    const rows = (dashboard.panels as { type: string; title: string }[]).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Registry', 'Promotions and canaries', 'Serving', 'Drift', 'Training and audit']);
  });

  it('has rules Prometheus loads: named groups, each rule an expr and a record or an alert, each alert a severity, a summary and a runbook', () => {
    expect(rules.groups.map((g) => g.name)).toEqual(['aegis-slo', 'aegis-alerts']);
    for (const r of allRules) {
      expect(typeof r.expr).toBe('string');
      expect(Boolean(r.record) !== Boolean(r.alert)).toBe(true);
      expect(Object.keys(r).filter((k) => !['record', 'alert', 'expr', 'for', 'labels', 'annotations'].includes(k))).toEqual([]);
      if (r.record) expect(r.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
      if (r.for) expect(r.for).toMatch(/^\d+[smh]$/);
    }
    const alerts = allRules.filter((r) => r.alert);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'AegisCanaryRolledBack',
        'AegisServingErrorRate',
        'AegisDriftSuggestionRaised',
        'AegisAuditArchiveBehind',
        'AegisAuditChainVerificationFailed',
      ]),
    );
    for (const a of alerts) {
      expect(a.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
      expect(a.annotations?.summary).toEqual(expect.any(String));
      const [file, anchor] = a.annotations!.runbook_url!.split('#');
      expect(existsSync(file!)).toBe(true);
      if (anchor)
        expect(
          readFileSync(file!, 'utf8')
            .split('\n')
            .some((l) => /^#+ /.test(l) && slug(l) === anchor),
        ).toBe(true);
    }
  });
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
  heading
    .replace(/^#+ /, '')
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
