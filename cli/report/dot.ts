/**
 * The state machine as a Graphviz DOT graph: one node per state (Parallel branches and Map processors as
 * clusters), edges for Next, Default, Choices and Catch, each state colored and labelled with what the executions
 * did there. Colors are never the only signal: every visited state's label carries its counts, and line styles
 * differ (dashed = never entered, bold = failed).
 */
import type { AslDefinition, AslState } from './types';

/** Per state totals over the executions shown (see traces.ts totalsByState). */
export type StateTotals = ReadonlyMap<string, {
  readonly entered: number; readonly failed: number; readonly retried: number; readonly executions: number;
}>;

/** How a state is drawn, by what the executions did there. */
export type StateOutcome = 'failed' | 'retried' | 'passed' | 'unvisited' | 'untraced';

export const OUTCOME_STYLE: Record<StateOutcome, { fill: string; border: string; style: string; legend: string }> = {
  failed: { fill: '#f8d0cc', border: '#a4161a', style: 'rounded,filled,bold', legend: 'failed at least once (bold border)' },
  retried: { fill: '#fde9b6', border: '#9a6700', style: 'rounded,filled', legend: 'retried, then went on' },
  passed: { fill: '#d3eed8', border: '#1a7f37', style: 'rounded,filled', legend: 'entered, no retry or failure' },
  unvisited: { fill: '#f3f4f6', border: '#8c959f', style: 'rounded,filled,dashed', legend: 'never entered (dashed border)' },
  untraced: { fill: '#ffffff', border: '#57606a', style: 'rounded,filled', legend: 'no execution traces available' },
};

const SHAPES: Record<string, string> = {
  Choice: 'diamond', Wait: 'hexagon', Succeed: 'doublecircle', Fail: 'doubleoctagon', Parallel: 'box3d', Map: 'box3d',
};

/** A DOT double-quoted string. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

export function outcomeOf(totals: StateTotals | undefined, name: string): StateOutcome {
  if (!totals) return 'untraced';
  const t = totals.get(name);
  if (!t || t.entered === 0) return 'unvisited';
  if (t.failed > 0) return 'failed';
  if (t.retried > 0) return 'retried';
  return 'passed';
}

function shorten(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

class DotWriter {
  readonly lines: string[] = [];
  private clusters = 0;
  private readonly ids = new Map<string, string>();

  constructor(private readonly totals: StateTotals | undefined) {}

  /** Node id of a state in a scope (state names are unique in a state machine; scoping keeps odd ones apart). */
  id(scope: string, name: string): string {
    const key = `${scope}/${name}`;
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = `s${this.ids.size}`));
    return id;
  }

  /** Writes one (sub)machine; returns the node ids that end it (End, Succeed, Fail). */
  machine(def: AslDefinition, scope: string, indent: string): void {
    const start = `${scope === '' ? 'start' : this.id(scope, '__start')}`;
    const end = `${scope === '' ? 'end' : this.id(scope, '__end')}`;
    const label = scope === '' ? 'Start' : 'start';
    this.lines.push(`${indent}${start} [label=${dotString(label)}, shape=circle, width=0.3, fixedsize=false, style=filled, fillcolor="#24292f", fontcolor="#ffffff", fontsize=9];`);
    this.lines.push(`${indent}${end} [label=${dotString(scope === '' ? 'End' : 'end')}, shape=doublecircle, width=0.3, style=filled, fillcolor="#24292f", fontcolor="#ffffff", fontsize=9];`);
    this.lines.push(`${indent}${start} -> ${this.id(scope, def.StartAt)};`);
    for (const [name, state] of Object.entries(def.States ?? {})) {
      this.state(name, state, scope, indent, end);
    }
  }

  private state(name: string, s: AslState, scope: string, indent: string, end: string): void {
    const id = this.id(scope, name);
    const outcome = outcomeOf(this.totals, name);
    const style = OUTCOME_STYLE[outcome];
    const t = this.totals?.get(name);
    const lines = [name, `(${s.Type})`];
    if (t && t.entered > 0) {
      lines.push(`entered ${t.entered}${t.retried > 0 ? ` · retried ${t.retried}` : ''}${t.failed > 0 ? ` · failed ${t.failed}` : ''}`);
    } else if (outcome === 'unvisited') {
      lines.push('not entered');
    }
    if (s.Retry && s.Retry.length > 0) lines.push(`retry: ${s.Retry.map((r) => `${r.MaxAttempts ?? 3}×`).join(', ')}`);
    const shape = SHAPES[s.Type] ?? 'box';
    this.lines.push(`${indent}${id} [label=${dotString(lines.join('\n'))}, shape=${shape}, style=${dotString(style.style)}, `
      + `fillcolor=${dotString(style.fill)}, color=${dotString(style.border)}, penwidth=${outcome === 'failed' ? 2.5 : 1.2}, `
      + `tooltip=${dotString(`${name}: ${style.legend}${s.Comment ? ` — ${s.Comment}` : ''}`)}];`);
    const edge = (to: string, attrs: string[] = []) => {
      this.lines.push(`${indent}${id} -> ${this.id(scope, to)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
    };
    if (s.Next !== undefined) edge(s.Next);
    (s.Choices ?? []).forEach((c, i) => {
      if (c.Next !== undefined) edge(c.Next, [`label=${dotString(`choice ${i + 1}`)}`, 'fontsize=9']);
    });
    if (s.Default !== undefined) edge(s.Default, [`label=${dotString('default')}`, 'fontsize=9', 'style=dotted']);
    for (const c of s.Catch ?? []) {
      edge(c.Next, [`label=${dotString(`catch ${shorten((c.ErrorEquals ?? []).join(', '), 30)}`)}`, 'fontsize=9', 'style=dashed', 'color="#a4161a"', 'fontcolor="#a4161a"']);
    }
    if (s.End === true || s.Type === 'Succeed' || s.Type === 'Fail') this.lines.push(`${indent}${id} -> ${end};`);
    const inner = [...(s.Branches ?? []), ...(s.ItemProcessor ? [s.ItemProcessor] : s.Iterator ? [s.Iterator] : [])];
    inner.forEach((branch, i) => {
      const cluster = `cluster_${this.clusters++}`;
      const innerScope = `${scope}/${name}#${i}`;
      const title = s.Type === 'Map' ? `${name}: item processor` : `${name}: branch ${i + 1}`;
      this.lines.push(`${indent}subgraph ${cluster} {`, `${indent}  label=${dotString(title)}; style="rounded,dashed"; color="#57606a"; fontsize=10;`);
      this.machine(branch, innerScope, `${indent}  `);
      this.lines.push(`${indent}}`);
      this.lines.push(`${indent}${id} -> ${this.id(innerScope, '__start')} [style=dashed, arrowhead=none, color="#57606a"];`);
    });
  }
}

/**
 * The DOT graph of a state machine definition. `totals` (per state, over the executions shown) colors the states;
 * without it every state is drawn plain ('untraced').
 */
export function aslToDot(definition: AslDefinition, totals?: StateTotals, title = 'State machine'): string {
  if (typeof definition?.StartAt !== 'string' || typeof definition.States !== 'object' || definition.States === null) {
    throw new Error('not a state machine definition (StartAt and States are required)');
  }
  const w = new DotWriter(totals);
  w.machine(definition, '', '  ');
  return [
    'digraph StateMachine {',
    `  graph [label=${dotString(title)}, labelloc=t, fontname="Helvetica", fontsize=14, rankdir=TB, nodesep=0.35, ranksep=0.45];`,
    '  node [fontname="Helvetica", fontsize=10, margin="0.12,0.05"];',
    '  edge [fontname="Helvetica", color="#57606a"];',
    ...w.lines,
    '}',
  ].join('\n');
}
