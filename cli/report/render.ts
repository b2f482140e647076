/**
 * The report page: data in, one self-contained HTML document out (inline SVG and CSS, no script, no URL), so it
 * opens from disk with no network. docs/report.md describes each section.
 */
import { dotSvg, escapeXml as esc, monthBarSpec, sortedBarSpec, timelineSpec, vegaLiteSvg } from './charts';
import { aslToDot, OUTCOME_STYLE, type StateOutcome } from './dot';
import { totalsByState } from './traces';
import type { ExecutionTrace, ReportData, SnapshotData } from './types';

/** The generator mark: `report` overwrites an output file only when it carries it (a page it wrote). */
export const GENERATOR = 'medlaunch-elt report';

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #24292f; margin: 0; background: #f6f8fa; }
header, main > section, footer { max-width: 1080px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 20px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 16px; margin: 20px 0 8px; }
.meta { color: #57606a; margin: 0 0 8px; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 16px; margin: 12px 0; overflow-x: auto; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; padding: 0; list-style: none; }
.kpis li { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; min-width: 110px; }
.kpis b { display: block; font-size: 20px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 4px 10px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #57606a; padding-bottom: 4px; }
figure { margin: 0; }
figcaption { color: #57606a; font-size: 12px; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; }
.notes { border-left: 4px solid #9a6700; background: #fff8c5; padding: 8px 12px; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; }
.swatch { display: inline-block; width: 14px; height: 14px; vertical-align: middle; margin-right: 4px; border-radius: 3px; }
.empty { color: #57606a; font-style: italic; }
code { font-size: 12px; }
svg { max-width: 100%; height: auto; }
.diagram svg { max-width: none; }
`;

const n = (v: number | undefined) => (v === undefined ? '–' : v.toLocaleString('en-US'));

function bytes(v: number | undefined): string {
  if (v === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let x = v;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

function table(caption: string, head: string[], rows: string[][], numeric: number[] = []): string {
  const th = head.map((h, i) => `<th scope="col"${numeric.includes(i) ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><caption>${esc(caption)}</caption><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function basename(key: string): string {
  return key.split('/').pop() ?? key;
}

async function snapshotSection(s: SnapshotData, index: number, traces: ReadonlyMap<string, ExecutionTrace>): Promise<string> {
  const r = s.report;
  const d = r.snapshotDate;
  const id = (what: string) => `s${index}-${what}`;
  const out: string[] = [];
  out.push(`<section aria-labelledby="${id('h')}"><h2 id="${id('h')}">Snapshot ${esc(d)}</h2>`);
  out.push(`<p class="meta">as of ${esc(r.asOf)} · expiry window ${esc(r.window.from)} → ${esc(r.window.to)} (${r.expiryMonths} months) · `
    + `published ${esc(r.publish.publishedAt)}${r.publish.lagSeconds !== undefined ? ` · ${n(Math.round(r.publish.lagSeconds))} s after the file arrived` : ''}</p>`);
  const t = r.totals;
  const accredited = r.stateCounts.reduce((a, c) => a + c.accreditedFacilities, 0);
  out.push('<ul class="kpis">', ...[
    ['files', t.files], ['records read', t.read], ['valid', t.valid], ['quarantined', t.quarantined], ['duplicates', t.duplicates],
    ['expiring', t.expiring], ['accredited facilities', accredited],
  ].map(([k, v]) => `<li><b>${n(v as number)}</b>${esc(String(k))}</li>`), `<li><b>${(t.quarantineRate * 100).toFixed(1)}%</b>quarantine rate</li>`, '</ul>');

  // Accredited facilities per state, and quarantine reasons.
  const states = r.stateCounts.map((c) => ({ label: c.state, value: c.accreditedFacilities }));
  const reasons = Object.entries(r.reasons).map(([label, value]) => ({ label, value }));
  out.push('<div class="grid">');
  out.push(`<div class="card"><h3>Accredited facilities per state</h3>${states.length === 0 ? '<p class="empty">No state counts were published.</p>' : figure(
    await vegaLiteSvg(sortedBarSpec(states, { labelTitle: 'state', valueTitle: 'accredited facilities', description: `Accredited facilities per state, ${d}` }),
      `Accredited facilities per state on ${d}: ${r.stateCounts.map((c) => `${c.state} ${c.accreditedFacilities}`).join(', ')}`, id('states')),
    `${n(accredited)} accredited facilities in ${n(states.length)} states, most first.`)}</div>`);
  out.push(`<div class="card"><h3>Quarantine reasons</h3>${reasons.length === 0 ? '<p class="empty">No record was quarantined.</p>' : figure(
    await vegaLiteSvg(sortedBarSpec(reasons, { labelTitle: 'reason', valueTitle: 'quarantined records', color: '#a4161a', description: `Quarantine reasons, ${d}` }),
      `Quarantined records by reason on ${d}: ${reasons.map((x) => `${x.label} ${x.value}`).join(', ')}`, id('reasons')),
    `${n(t.quarantined)} quarantined of ${n(t.read)} records read; reason codes in docs/semantics.md.`)}</div>`);
  out.push('</div>');

  // Expiring facilities.
  const e = s.expiring;
  out.push(`<div class="card"><h3>Expiring facilities (${n(e.total)})</h3>`);
  if (e.total === 0) {
    out.push(`<p class="empty">No facility has an accreditation expiring between ${esc(r.window.from)} and ${esc(r.window.to)}.</p>`);
  } else {
    out.push(figure(await vegaLiteSvg(monthBarSpec(e.byMonth, `Expiring facilities by month of expiry, ${d}`),
      `Expiring facilities by month of expiry on ${d}: ${e.byMonth.map((m) => `${m.month} ${m.facilities}`).join(', ')}`, id('months')),
    'Each facility counted once, in the month its earliest accreditation in the window expires.'));
    out.push(table(e.rows.length === e.total ? 'By expiry date' : `The first ${n(e.rows.length)} by expiry date`, ['expires', 'facility', 'name', 'state', 'accreditation body'],
      e.rows.map((x) => [esc(x.validUntil), `<code>${esc(x.facilityId)}</code>`, esc(x.facilityName), esc(x.state), esc(x.accreditationBody)])));
    if (e.total > e.rows.length) out.push(`<p>… and ${n(e.total - e.rows.length)} more in the expiring output.</p>`);
  }
  if (e.unreadable > 0) out.push(`<p class="notes">${n(e.unreadable)} line(s) of the expiring output were not facility records.</p>`);
  out.push('</div>');

  // Files and queries.
  out.push(`<div class="card"><h3>Files</h3>${table(`${n(r.files.length)} file(s) validated for this snapshot`,
    ['file', 'read', 'valid', 'quarantined', 'duplicates', 'blank lines', 'expiring', 'validated at'],
    r.files.map((f) => [`<code title="${esc(f.key)}">${esc(basename(f.key))}</code>`, n(f.read), n(f.valid), n(f.quarantined), n(f.duplicates), n(f.blankLines), n(f.expiring), esc(f.validatedAt)]),
    [1, 2, 3, 4, 5, 6])}</div>`);
  out.push(`<div class="card"><h3>Queries</h3>${r.queries.length === 0 ? '<p class="empty">No query recorded.</p>' : table('Athena queries of the refresh',
    ['query', 'state', 'data scanned', 'engine time', 'submitted', 'completed'],
    r.queries.map((q) => [esc(q.query), esc(q.state), bytes(q.bytesScanned), q.engineTimeMs === undefined ? '–' : `${n(q.engineTimeMs)} ms`, esc(q.submittedAt ?? '–'), esc(q.completedAt ?? '–')]),
    [2, 3])}</div>`);

  // Execution timeline.
  // One row per execution: the one that published usually validated a file too.
  const byArn = new Map<string, typeof r.executions[number][]>();
  for (const x of r.executions) byArn.set(x.executionArn, [...(byArn.get(x.executionArn) ?? []), x]);
  const rows = [...byArn].map(([arn, xs]) => {
    const tr = traces.get(arn);
    const published = xs.some((x) => x.role === 'published');
    const start = xs.map((x) => x.startedAt).find((v) => v !== undefined) ?? tr?.startedAt;
    const ends = xs.map((x) => x.finishedAt).filter((v): v is string => v !== undefined).sort();
    const end = ends.pop() ?? tr?.stoppedAt ?? (published ? r.publish.publishedAt : undefined);
    const role = [...new Set(xs.map((x) => x.role))].join(' + ');
    return { execution: tr?.name ?? arn.split(':').pop() ?? arn, key: xs.find((x) => x.key)?.key, start, end, status: tr?.status ?? 'UNKNOWN', role };
  });
  const timed = rows.filter((x): x is typeof x & { start: string; end: string } => x.start !== undefined && x.end !== undefined);
  out.push('<div class="card"><h3>Executions</h3>');
  if (timed.length > 0) {
    out.push(figure(await vegaLiteSvg(timelineSpec(timed, `Executions of ${d}`),
      `Timeline of the ${timed.length} executions of ${d}: ${timed.map((x) => `${x.execution} ${x.role} ${x.status}`).join(', ')}`, id('timeline')),
    'One bar per execution, from its start to its end, labelled with its role and status.'));
  }
  out.push(table('Executions that validated a file of this snapshot or published it', ['execution', 'role', 'status', 'file', 'started', 'ended'],
    rows.map((x) => [`<code>${esc(x.execution)}</code>`, esc(x.role), esc(x.status), x.key ? `<code>${esc(basename(x.key))}</code>` : '–', esc(x.start ?? '–'), esc(x.end ?? '–')])));
  out.push('</div></section>');
  return out.join('\n');
}

async function stateMachineSection(data: ReportData): Promise<string> {
  const out = ['<section aria-labelledby="sm-h"><h2 id="sm-h">State machine</h2>'];
  if (!data.stateMachine) {
    out.push('<p class="empty">The state machine definition was not available (see the notes above).</p></section>');
    return out.join('\n');
  }
  const totals = data.traces.length > 0 ? totalsByState(data.traces) : undefined;
  const dot = aslToDot(data.stateMachine.definition, totals, data.stateMachine.name);
  const used: StateOutcome[] = totals ? ['passed', 'retried', 'failed', 'unvisited'] : ['untraced'];
  out.push(`<p class="meta">${esc(data.stateMachine.name)}: ${Object.keys(data.stateMachine.definition.States).length} top-level states; `
    + `${totals ? `colored by what ${n(data.traces.length)} execution(s) did (counts are in each state's label)` : 'no execution traces, so no state is colored'}.</p>`);
  out.push('<ul class="legend">', ...used.map((o) => `<li><span class="swatch" style="background:${OUTCOME_STYLE[o].fill};border:2px ${o === 'unvisited' ? 'dashed' : 'solid'} ${OUTCOME_STYLE[o].border}"></span>${esc(OUTCOME_STYLE[o].legend)}</li>`), '</ul>');
  const visited = totals ? [...totals].filter(([, t]) => t.entered > 0).map(([name, t]) => `${name} entered ${t.entered}, retried ${t.retried}, failed ${t.failed}`) : [];
  out.push(`<div class="card diagram">${figure(await dotSvg(dot, `State machine ${data.stateMachine.name}${visited.length ? `; ${visited.join('; ')}` : ''}`, 'sm-diagram'),
    'Edges: Next (solid), Default (dotted), Choices (labelled choice n), Catch (dashed, labelled with the errors); Parallel branches and Map processors are boxed.')}</div>`);
  if (totals) {
    out.push(`<div class="card">${table('Per state, over the traced executions', ['state', 'executions', 'entered', 'retried', 'failed'],
      [...totals].map(([name, t]) => [esc(name), n(t.executions), n(t.entered), n(t.retried), n(t.failed)]), [1, 2, 3, 4])}</div>`);
  }
  out.push('</section>');
  return out.join('\n');
}

/** The whole page. Async only because the SVG renderers are; it reads nothing but `data`. */
export async function renderReport(data: ReportData): Promise<string> {
  const traces = new Map(data.traces.map((t) => [t.executionArn, t]));
  const sections: string[] = [];
  for (const [i, s] of data.snapshots.entries()) sections.push(await snapshotSection(s, i, traces));
  const shown = data.snapshots.length;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${GENERATOR}">
<title>medlaunch-elt report: ${esc(data.source)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>medlaunch-elt run report</h1>
<p class="meta">${esc(data.source)} · ${shown === data.snapshotsFound ? `${n(shown)} published snapshot(s)` : `the newest ${n(shown)} of ${n(data.snapshotsFound)} published snapshots`} · generated ${esc(data.generatedAt)}</p>
${data.notes.length > 0 ? `<div class="notes" role="note"><strong>Notes</strong><ul>${data.notes.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></div>` : ''}
${shown > 0 ? `<nav aria-label="Snapshots"><p>Snapshots: ${data.snapshots.map((s, i) => `<a href="#s${i}-h">${esc(s.report.snapshotDate)}</a>`).join(' · ')} · <a href="#sm-h">state machine</a></p></nav>` : ''}
</header>
<main>
${shown === 0 ? '<section><h2>No published snapshot</h2><p class="empty">No run report was found: the pipeline writes one per published snapshot.</p></section>' : sections.join('\n')}
${await stateMachineSection(data)}
</main>
<footer><p class="meta">Made by <code>npx medlaunch-elt report</code>: charts by Vega-Lite, the diagram by Graphviz, rendered to SVG when the page was made. No script, no network.</p></footer>
</body>
</html>
`;
}
