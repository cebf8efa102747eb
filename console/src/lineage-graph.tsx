/**
 * An artifact's lineage as plain SVG, left to right: artifact (and the parent it was retrained
 * from) → manifest → datasets, code, container → promotions → deployments → drift suggestions.
 * Nodes with a console page are real links (keyboard focus, open in a new tab).
 */
import type { JSX } from 'preact';
import type { LineageReply } from '../../lib/platform/http/schemas.js';
import { navigate } from './router.js';

export interface GraphNode {
  id: string;
  col: number;
  kind: string;
  label: string;
  href?: string;
}
export interface GraphEdge {
  from: string;
  to: string;
  rel: string;
}

const COLUMNS = ['artifact', 'manifest', 'inputs', 'promotions', 'deployments', 'suggestions'];
const W = 180;
const H = 44;
const GAP_X = 32;
const GAP_Y = 14;
const PAD = 24;

const short = (s: string, n = 24) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The nodes and edges of a lineage reply, each node in its column. */
export function lineageGraph(l: LineageReply): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const art = `artifact:${l.artifact.artifactId}`;
  const nodes: GraphNode[] = [
    { id: art, col: 0, kind: 'artifact', label: `${l.artifact.modelName} v${l.artifact.version}` },
    { id: `manifest:${l.manifest.manifestSha256}`, col: 1, kind: 'manifest', label: `sha256 ${l.manifest.manifestSha256.slice(0, 12)}` },
    ...l.datasets.map((d) => ({ id: `dataset:${d.id}@${d.version}`, col: 2, kind: 'dataset', label: `${d.id}@${d.version}` })),
    { id: `code:${l.code.codeRef}`, col: 2, kind: 'code', label: l.code.codeRef },
    { id: `container:${l.container.digest}`, col: 2, kind: 'container', label: l.container.digest.replace(/^sha256:/, '').slice(0, 16) },
  ];
  if (l.parent)
    nodes.push({
      id: `artifact:${l.parent.artifactId}`,
      col: 0,
      kind: 'parent',
      label: l.parent.artifactId.slice(0, 8),
      href: `/artifacts/${l.parent.artifactId}`,
    });
  const edges: GraphEdge[] = [...l.edges];
  for (const p of l.promotions) {
    const id = `promotion:${p.promotionId}`;
    nodes.push({
      id,
      col: 3,
      kind: `promotion ${p.status}`,
      label: `${p.targetEnv} · ${p.promotionId.slice(0, 8)}`,
      href: `/promotions/${p.promotionId}`,
    });
    edges.push({ from: art, to: id, rel: 'promoted' });
  }
  for (const d of l.deployments) {
    const id = `deployment:${d.env}:${d.role}`;
    nodes.push({
      id,
      col: 4,
      kind: `deployment ${d.role}`,
      label: `${d.env} · ${d.percent} %`,
      href: `/models/${encodeURIComponent(l.artifact.modelName)}`,
    });
    const by = [...l.promotions].reverse().find((p) => p.targetEnv === d.env && p.status === 'succeeded');
    edges.push({ from: by ? `promotion:${by.promotionId}` : art, to: id, rel: 'serves' });
  }
  for (const e of l.edges)
    if (e.to.startsWith('suggestion:') && !nodes.some((n) => n.id === e.to))
      nodes.push({ id: e.to, col: 5, kind: 'drift suggestion', label: e.to.slice('suggestion:'.length, 'suggestion:'.length + 8) });
  return { nodes, edges };
}

function Node(props: { n: GraphNode; x: number; y: number }): JSX.Element {
  const { n, x, y } = props;
  const body = (
    <>
      <rect x={x} y={y} width={W} height={H} rx={6} fill="#ffffff" stroke="#8c959f" />
      <text x={x + 8} y={y + 16} fill="#5b6570">
        {n.kind}
      </text>
      <text x={x + 8} y={y + 34}>
        {short(n.label)}
      </text>
    </>
  );
  if (!n.href)
    return (
      <g>
        {body}
        <title>{`${n.kind}: ${n.label}`}</title>
      </g>
    );
  const href = n.href;
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} aria-label={`${n.kind}: ${n.label}`} onClick={onClick}>
      {body}
    </a>
  );
}

/** The graph; `title` names it for assistive technology. */
export function LineageGraph(props: { lineage: LineageReply; title: string }): JSX.Element {
  const { nodes, edges } = lineageGraph(props.lineage);
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const row = rows.get(n.col) ?? 0;
    rows.set(n.col, row + 1);
    at.set(n.id, { x: PAD + n.col * (W + GAP_X), y: PAD + 18 + row * (H + GAP_Y) });
  }
  const width = PAD * 2 + COLUMNS.length * (W + GAP_X) - GAP_X;
  const height = PAD * 2 + 18 + Math.max(...rows.values()) * (H + GAP_Y);
  return (
    // focusable: a narrow window scrolls the graph sideways, which the keyboard must reach
    <div class="lineage" tabIndex={0} role="region" aria-label={`${props.title} (scrolls sideways)`}>
      <svg role="group" aria-label={props.title} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
        {COLUMNS.map((c, i) => (
          <text key={c} x={PAD + i * (W + GAP_X)} y={PAD} fill="#5b6570">
            {c}
          </text>
        ))}
        {edges.map((e) => {
          const a = at.get(e.from);
          const b = at.get(e.to);
          if (!a || !b) return null;
          const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
          const mid = (x1 + x2) / 2;
          return (
            <path
              key={`${e.from}>${e.to}`}
              d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
              fill="none"
              stroke="#8c959f"
              stroke-width={1.5}
            >
              <title>{e.rel}</title>
            </path>
          );
        })}
        {nodes.map((n) => (
          <Node key={n.id} n={n} {...at.get(n.id)!} />
        ))}
      </svg>
    </div>
  );
}
