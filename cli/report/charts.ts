/**
 * Static SVG from kept libraries: Vega-Lite specs compiled and rendered by Vega in Node (`view.toSVG()`, no
 * canvas, no browser) and DOT compiled by Graphviz in WebAssembly (`@viz-js/viz`). The SVG is cleaned for inlining
 * into HTML: no XML prolog, doctype or comments, no namespace URLs (the HTML parser puts inline `<svg>` in the SVG
 * namespace), so the page holds no URL at all.
 */
/* eslint-disable @typescript-eslint/no-require-imports */

type VegaLiteSpec = Record<string, unknown>;

interface VegaModule {
  View: new (runtime: unknown, opts: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
  parse(spec: unknown): unknown;
}
interface VegaLiteModule { compile(spec: unknown): { spec: unknown } }
interface Viz { renderString(dot: string, opts: { format: 'svg' }): string }

let vizInstance: Promise<Viz> | undefined;

function libs(): { vega: VegaModule; vl: VegaLiteModule } {
  // Loaded on demand: only `report` (and `local`'s report) needs them; they are dev dependencies (docs/report.md).
  return { vega: require('vega') as VegaModule, vl: require('vega-lite') as VegaLiteModule };
}

/** Removes what an inline SVG in HTML does not need and what would put a URL on the page. */
export function inlineSvg(svg: string, title: string, id: string): string {
  let s = svg
    .replace(/<\?xml[^>]*\?>/g, '')
    .replace(/<!DOCTYPE[^>]*>/gi, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\s+xmlns(:\w+)?="[^"]*"/g, '')
    .trim();
  // The accessible name: role=img with a <title> first inside the <svg>.
  s = s.replace(/<svg\b([^>]*)>/, (_m, attrs: string) => {
    const cleaned = attrs.replace(/\s(role|aria-label|aria-labelledby|aria-roledescription)="[^"]*"/g, '');
    return `<svg${cleaned} role="img" aria-labelledby="${id}"><title id="${id}">${escapeXml(title)}</title>`;
  });
  return s;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Renders a Vega-Lite spec to an inline SVG. */
export async function vegaLiteSvg(spec: VegaLiteSpec, title: string, id: string): Promise<string> {
  const { vega, vl } = libs();
  const compiled = vl.compile({
    $schema: undefined,
    config: {
      font: 'Helvetica, Arial, sans-serif',
      axis: { labelFontSize: 11, titleFontSize: 11 },
      view: { stroke: null },
      background: '#ffffff',
    },
    ...spec,
  }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return inlineSvg(await view.toSVG(), title, id);
  } finally {
    view.finalize();
  }
}

/** Compiles a DOT graph to an inline SVG with Graphviz (WebAssembly). */
export async function dotSvg(dot: string, title: string, id: string): Promise<string> {
  vizInstance ??= (require('@viz-js/viz') as { instance(): Promise<Viz> }).instance();
  const viz = await vizInstance;
  return inlineSvg(viz.renderString(dot, { format: 'svg' }), title, id);
}

/** Integer ticks: every integer up to 10, else about 6 (a count axis never shows 0.5). */
function countAxis(values: readonly number[]): Record<string, unknown> {
  const max = Math.max(0, ...values);
  return max <= 10 ? { values: Array.from({ length: max + 1 }, (_, i) => i), format: 'd' } : { tickCount: 6, format: 'd' };
}

/** A horizontal bar chart sorted by value, each bar labelled with its value (readable without color). */
export function sortedBarSpec(
  rows: ReadonlyArray<{ label: string; value: number }>,
  o: { labelTitle: string; valueTitle: string; color?: string; description: string },
): VegaLiteSpec {
  return {
    description: o.description,
    width: 340,
    height: { step: 18 },
    data: { values: rows.map((r) => ({ label: r.label, value: r.value })) },
    encoding: {
      // An explicit order (most first, then by name): a field sort conflicts between the layers.
      y: { field: 'label', type: 'nominal', sort: [...rows].sort((a, b) => b.value - a.value || a.label.localeCompare(b.label)).map((r) => r.label), title: o.labelTitle },
      x: { field: 'value', type: 'quantitative', title: o.valueTitle, axis: countAxis(rows.map((r) => r.value)) },
    },
    layer: [
      { mark: { type: 'bar', color: o.color ?? '#0969da' } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 11, color: '#24292f' }, encoding: { text: { field: 'value', type: 'quantitative' } } },
    ],
  };
}

/** Vertical bars per month (YYYY-MM), in month order, each labelled with its value. */
export function monthBarSpec(rows: ReadonlyArray<{ month: string; facilities: number }>, description: string): VegaLiteSpec {
  return {
    description,
    width: { step: 44 },
    height: 180,
    data: { values: rows.map((r) => ({ month: r.month, facilities: r.facilities })) },
    encoding: {
      x: { field: 'month', type: 'ordinal', sort: 'ascending', title: 'month of expiry', axis: { labelAngle: 0 } },
      y: { field: 'facilities', type: 'quantitative', title: 'facilities', axis: countAxis(rows.map((r) => r.facilities)) },
    },
    layer: [
      { mark: { type: 'bar', color: '#bc4c00' } },
      { mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 11, color: '#24292f' }, encoding: { text: { field: 'facilities', type: 'quantitative' } } },
    ],
  };
}

const STATUS_COLORS: Record<string, string> = {
  SUCCEEDED: '#1a7f37', FAILED: '#a4161a', TIMED_OUT: '#bc4c00', ABORTED: '#6e7781', RUNNING: '#0969da',
};

/** One bar per execution from its start to its end; the status is both a color and a text label. */
export function timelineSpec(
  rows: ReadonlyArray<{ execution: string; start: string; end: string; status: string; role: string }>,
  description: string,
): VegaLiteSpec {
  const statuses = [...new Set(rows.map((r) => r.status))].sort();
  return {
    description,
    width: 560,
    height: { step: 20 },
    data: { values: rows.map((r) => ({ ...r, label: `${r.role} · ${r.status}` })) },
    encoding: {
      y: { field: 'execution', type: 'nominal', axis: { labelLimit: 320 }, sort: [...rows].sort((a, b) => a.start.localeCompare(b.start)).map((r) => r.execution), title: null },
    },
    layer: [
      {
        mark: { type: 'bar', cornerRadius: 2, minBandSize: 3 },
        encoding: {
          x: { field: 'start', type: 'temporal', title: 'time (UTC)', axis: { format: '%H:%M:%S' }, timeUnit: 'utcyearmonthdatehoursminutessecondsmilliseconds' },
          x2: { field: 'end', timeUnit: 'utcyearmonthdatehoursminutessecondsmilliseconds' },
          color: {
            field: 'status',
            type: 'nominal',
            title: 'status',
            legend: { orient: 'bottom' },
            scale: { domain: statuses, range: statuses.map((x) => STATUS_COLORS[x] ?? '#8c959f') },
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#24292f' },
        encoding: {
          x: { field: 'end', type: 'temporal', timeUnit: 'utcyearmonthdatehoursminutessecondsmilliseconds' },
          text: { field: 'label' },
        },
      },
    ],
  };
}
