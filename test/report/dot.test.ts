import { mkdtempSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './support/fixture';
import { dotSvg } from '../../cli/report/charts';
import { aslToDot, dotString, OUTCOME_STYLE, outcomeOf } from '../../cli/report/dot';
import { readDeployment } from '../../cli/report/local';
import type { AslDefinition } from '../../cli/report/types';

/** The node id DOT gives a state (its label starts with the state's name). */
function idOf(dot: string, name: string): string {
  const m = new RegExp(`^\\s*(\\w+) \\[label="${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\\\n`, 'm').exec(dot);
  if (!m) throw new Error(`no node for ${name}`);
  return m[1];
}
function edges(dot: string, from: string, to: string): string[] {
  const a = idOf(dot, from);
  const b = idOf(dot, to);
  return dot.split('\n').filter((l) => l.trim().startsWith(`${a} -> ${b}`)).map((l) => l.trim());
}

const machine: AslDefinition = {
  StartAt: 'Check',
  States: {
    Check: { Type: 'Choice', Choices: [{ Variable: '$.a', IsPresent: true, Next: 'Work' }], Default: 'Reject' },
    Reject: { Type: 'Fail' },
    Work: {
      Type: 'Task',
      Next: 'Both',
      Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 6 }],
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Alert' }],
    },
    Both: {
      Type: 'Parallel',
      Next: 'Done',
      Branches: [
        { StartAt: 'Left', States: { Left: { Type: 'Pass', End: true } } },
        { StartAt: 'Right', States: { Right: { Type: 'Succeed' } } },
      ],
    },
    Each: { Type: 'Map', End: true, ItemProcessor: { StartAt: 'Item', States: { Item: { Type: 'Pass', End: true } } } },
    Alert: { Type: 'Pass', Next: 'Done' },
    Done: { Type: 'Succeed' },
  },
};

describe('aslToDot', () => {
  const dot = aslToDot(machine);

  it('draws Next, Choices, Default and Catch as edges, each kind distinguishable without color', () => {
    expect(edges(dot, 'Work', 'Both')).toHaveLength(1);
    expect(edges(dot, 'Check', 'Work')[0]).toContain('label="choice 1"');
    expect(edges(dot, 'Check', 'Reject')[0]).toMatch(/label="default".*style=dotted/);
    expect(edges(dot, 'Work', 'Alert')[0]).toMatch(/label="catch States.ALL".*style=dashed/);
    expect(dot).toMatch(/^\s*start -> s\d+;$/m);
    expect(dot).toContain(`${idOf(dot, 'Done')} -> end;`);
    expect(dot).toContain(`${idOf(dot, 'Reject')} -> end;`);
  });

  it('boxes Parallel branches and Map processors as clusters, linked to their owner', () => {
    expect(dot).toContain('subgraph cluster_0 {');
    expect(dot).toContain('label="Both: branch 1"');
    expect(dot).toContain('label="Both: branch 2"');
    expect(dot).toContain('label="Each: item processor"');
    const cluster = dot.slice(dot.indexOf('label="Both: branch 1"'));
    expect(cluster.slice(0, cluster.indexOf('}'))).toContain('[label="Left\\n(Pass)"');
  });

  it('labels states with type, retry policy and, with traces, what the executions did', () => {
    const traced = aslToDot(machine, new Map([
      ['Check', { entered: 3, retried: 0, failed: 0, executions: 3 }],
      ['Work', { entered: 3, retried: 2, failed: 1, executions: 3 }],
      ['Alert', { entered: 1, retried: 0, failed: 0, executions: 1 }],
    ]));
    const line = (name: string) => traced.split('\n').find((l) => l.includes(`[label="${name}\\n`))!;
    expect(line('Work')).toContain('label="Work\\n(Task)\\nentered 3 · retried 2 · failed 1\\nretry: 6×"');
    expect(line('Work')).toContain(`fillcolor="${OUTCOME_STYLE.failed.fill}"`);
    expect(line('Work')).toContain('bold');
    expect(line('Check')).toContain(`fillcolor="${OUTCOME_STYLE.passed.fill}"`);
    expect(line('Reject')).toContain('not entered');
    expect(line('Reject')).toContain('dashed');
    expect(line('Alert')).toContain('entered 1"');
    // Without traces no state claims an outcome.
    expect(dot).not.toContain('not entered');
    expect(dot).toContain(`fillcolor="${OUTCOME_STYLE.untraced.fill}"`);
  });

  it('classifies outcomes: failed over retried over passed', () => {
    const t = new Map([['a', { entered: 1, retried: 1, failed: 1, executions: 1 }], ['b', { entered: 1, retried: 1, failed: 0, executions: 1 }]]);
    expect([outcomeOf(t, 'a'), outcomeOf(t, 'b'), outcomeOf(t, 'c'), outcomeOf(undefined, 'a')]).toEqual(['failed', 'retried', 'unvisited', 'untraced']);
  });

  it('escapes quotes, backslashes and newlines in names', () => {
    expect(dotString('a "b" \\ c\nd')).toBe('"a \\"b\\" \\\\ c\\nd"');
    const odd = aslToDot({ StartAt: 'say "hi"', States: { 'say "hi"': { Type: 'Pass', End: true } } });
    expect(odd).toContain('[label="say \\"hi\\"\\n(Pass)"');
  });

  it('refuses what is not a definition', () => {
    expect(() => aslToDot({} as AslDefinition)).toThrow('not a state machine definition');
  });
});

describe('the synthesized state machine through Graphviz (WebAssembly)', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles the pipeline\'s definition from the committed synthesized template to an SVG naming every state', async () => {
    dir = mkdtempSync(join(tmpdir(), 'report-dot-'));
    mkdirSync(join(dir, 'cdk.out'));
    const integ = join(REPO, 'integ', 'integ.pipeline.ts.snapshot');
    for (const f of readdirSync(integ)) if (f === 'manifest.json' || f.endsWith('.template.json')) copyFileSync(join(integ, f), join(dir, 'cdk.out', f));
    const notes: string[] = [];
    const dep = readDeployment(dir, notes);
    expect(notes).toEqual([]);
    const def = dep.stateMachine!.definition;
    const names = [...Object.keys(def.States), ...Object.values(def.States).flatMap((s) => (s.Branches ?? []).flatMap((b) => Object.keys(b.States)))];
    expect(names).toEqual(expect.arrayContaining(['ProcessObject', 'RefreshSnapshot', 'StartExtract', 'PollStateCounts', 'PublishResults']));
    const svg = await dotSvg(aslToDot(def), 'the pipeline', 'sm');
    expect(svg).toMatch(/^<svg[^>]* role="img" aria-labelledby="sm"><title id="sm">the pipeline<\/title>/);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const name of names) expect(texts).toContain(name);
    expect(svg).not.toMatch(/https?:|<!DOCTYPE|<\?xml|xmlns/);
  });
});
