// Reading a V8 CPU profile (.cpuprofile, as `--cpu-prof` or the inspector write it): where the time
// went, as two tables (self time and inclusive time per function, in µs per operation when told how
// many operations the profile covers) and as a flame graph (an SVG icicle: callers above callees,
// widths proportional to time, one colour per origin: Fare's own code, its packages, Node.js
// internals, and the VM: garbage collection, idle, native code).

/** The parts of a .cpuprofile read here. */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }; readonly children?: readonly number[] }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One function's line in the tables. */
export interface Row {
  readonly name: string;
  /** Share of all sampled time (idle included). */
  readonly share: number;
  /** µs per operation (or µs in total without `operations`). */
  readonly us: number;
}

/** `name file:line`, with paths shortened to what follows `src/`, `node_modules/` or `node:`. */
function label(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const where = cf.url === '' ? '' : ` ${cf.url.replace(/^.*\/(dist|src)\//, '').replace(/^.*\/node_modules\//, '').replace(/^node:/, '')}:${cf.lineNumber + 1}`;
  return `${cf.functionName === '' ? '(anonymous)' : cf.functionName}${where}`;
}

/** Time (µs) of each sampled node, and every node's parent. */
function tally(p: CpuProfile): { self: Map<number, number>; parent: Map<number, number>; total: number } {
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((s, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    self.set(s, (self.get(s) ?? 0) + dt);
  });
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return { self, parent, total };
}

/** The functions with the most self time and the most inclusive time (a function counted once per stack). */
export function tables(p: CpuProfile, top = 40, operations = 1): { self: Row[]; inclusive: Row[]; totalUs: number } {
  const { self, parent, total } = tally(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfBy = new Map<string, number>();
  const inclBy = new Map<string, number>();
  for (const [id, t] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const k = label(node.callFrame);
    selfBy.set(k, (selfBy.get(k) ?? 0) + t);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n === undefined) break;
      const name = label(n.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclBy.set(name, (inclBy.get(name) ?? 0) + t);
    }
  }
  const rows = (m: Map<string, number>): Row[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, t]) => ({ name, share: total > 0 ? t / total : 0, us: t / operations }));
  inclBy.delete('(root)');
  return { self: rows(selfBy), inclusive: rows(inclBy), totalUs: total };
}

/** The tables as text. */
export function tablesText(t: ReturnType<typeof tables>, unit: string): string {
  const line = (r: Row): string => `${(100 * r.share).toFixed(1).padStart(5)} %  ${r.us.toFixed(1).padStart(8)} ${unit}  ${r.name}`;
  return ['Self time (where the CPU was):', ...t.self.map(line), '', 'Inclusive time (a function and what it called):', ...t.inclusive.map(line), ''].join('\n');
}

interface Frame {
  readonly name: string;
  time: number;
  readonly children: Map<string, Frame>;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Colour by where the code comes from. */
function colour(name: string): string {
  if (/^\((garbage collector|idle|program|root)\)/.test(name)) return '#bbbbbb';
  if (/ (live|core|sim|cli)\//.test(name)) return '#e8743b';
  if (/ [a-z@][^ ]*\/(lib|index|dist)/.test(name) || name.includes('.js:') && !name.includes('internal/')) return '#5ba3d9';
  return '#9fc5a8';
}

/**
 * The profile as a flame graph: one bar per call path (callers at the top), `width` px for all the
 * sampled time; paths under `minShare` of it are left out. Idle time is left out (the bar for a
 * waiting process says nothing), so the widths are shares of the time the process was busy.
 */
export function flameSvg(p: CpuProfile, title: string, width = 1600, minShare = 0.002): string {
  const { self, parent } = tally(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const root: Frame = { name: 'all', time: 0, children: new Map() };
  for (const [id, t] of self) {
    const path: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n === undefined) break;
      path.push(label(n.callFrame));
    }
    path.reverse();
    if (path[0] === '(root)') path.shift();
    if (path.length === 0 || path[0] === '(idle)') continue;
    root.time += t;
    let f = root;
    for (const name of path) {
      let c = f.children.get(name);
      if (c === undefined) {
        c = { name, time: 0, children: new Map() };
        f.children.set(name, c);
      }
      c.time += t;
      f = c;
    }
  }
  const rowH = 17;
  const rects: string[] = [];
  let depth = 0;
  const draw = (f: Frame, x: number, d: number): void => {
    const w = (f.time / root.time) * width;
    depth = Math.max(depth, d);
    const y = 30 + d * rowH;
    const pct = ((100 * f.time) / root.time).toFixed(1);
    const text = w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${y + 12}" clip-path="inherit">${escape(f.name.slice(0, Math.floor((w - 6) / 6.5)))}</text>` : '';
    rects.push(`<g><title>${escape(f.name)} (${pct} %)</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="${colour(f.name)}"/>${text}</g>`);
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => b.time - a.time)) {
      if (c.time / root.time >= minShare) draw(c, cx, d + 1);
      cx += (c.time / root.time) * width;
    }
  };
  if (root.time > 0) draw(root, 0, 0);
  const height = 30 + (depth + 1) * rowH + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="4" y="18" font-size="14">${escape(title)} — hover a bar for its name and share; orange: Fare, blue: packages, green: Node.js, grey: VM</text>`,
    ...rects,
    '</svg>',
    '',
  ].join('\n');
}
