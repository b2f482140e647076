/**
 * Where a registered table's data is on disk right now: its visible data files, its partitions
 * (partition projection through the table's location template, or Hive `key=value/` folders) and
 * the files of each partition.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GlueTableInput, parseS3Uri } from './catalog';

/** Hidden objects (Athena/Hive ignore names starting with `_` or `.`, and `$folder$` markers). */
function hidden(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.') || name.endsWith('$folder$');
}

export interface DataFile {
  readonly path: string;
  readonly size: number;
  /** Identifies this version of the file: inode, size and mtime (an overwrite changes it). */
  readonly version: string;
}

/** Every visible data file below a folder, recursively, in key order. */
export function listDataFiles(dir: string): DataFile[] {
  const out: DataFile[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (hidden(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {out.push(...listDataFiles(p));} else if (e.isFile()) {
      const st = statSync(p);
      if (st.size > 0) out.push({ path: p, size: st.size, version: `${st.ino}-${st.size}-${st.mtimeMs}` });
    }
  }
  return out;
}

/** A partition: its key values (in PartitionKeys order) and its folder on disk. */
export interface Partition {
  readonly values: string[];
  readonly dir: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Converts a Java date pattern (projection.<col>.format) to a regex and a checker. */
function javaDatePattern(format: string): RegExp {
  const parts: Record<string, string> = { yyyy: '(\\d{4})', MM: '(\\d{2})', dd: '(\\d{2})', HH: '(\\d{2})', mm: '(\\d{2})', ss: '(\\d{2})' };
  let re = '';
  for (let i = 0; i < format.length;) {
    const tok = Object.keys(parts).find((k) => format.startsWith(k, i));
    if (tok) { re += parts[tok]; i += tok.length; } else { re += escapeRe(format[i]); i++; }
  }
  return new RegExp(`^${re}$`);
}

function toIsoDay(value: string, format: string): string | undefined {
  const m = javaDatePattern(format).exec(value);
  if (!m) return undefined;
  const order = ['yyyy', 'MM', 'dd'].map((k) => format.indexOf(k));
  const fields = ['yyyy', 'MM', 'dd', 'HH', 'mm', 'ss'].filter((k) => format.includes(k)).sort((a, b) => format.indexOf(a) - format.indexOf(b));
  const get = (k: string): string | undefined => m[fields.indexOf(k) + 1];
  if (order.some((o) => o < 0)) return undefined;
  const iso = `${get('yyyy')}-${get('MM')}-${get('dd')}`;
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) return undefined;
  return iso;
}

function rangeBound(text: string, format: string, now: Date): string | undefined {
  const t = text.trim();
  const rel = /^NOW(?:\s*([+-])\s*(\d+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?))?$/i.exec(t);
  if (rel) {
    const d = new Date(now.getTime());
    if (rel[1]) {
      const n = Number(rel[2]) * (rel[1] === '-' ? -1 : 1);
      const unit = rel[3].toUpperCase().replace(/S$/, '');
      if (unit === 'YEAR') d.setUTCFullYear(d.getUTCFullYear() + n);
      else if (unit === 'MONTH') d.setUTCMonth(d.getUTCMonth() + n);
      else if (unit === 'WEEK') d.setUTCDate(d.getUTCDate() + 7 * n);
      else if (unit === 'DAY') d.setUTCDate(d.getUTCDate() + n);
      else if (unit === 'HOUR') d.setUTCHours(d.getUTCHours() + n);
      else if (unit === 'MINUTE') d.setUTCMinutes(d.getUTCMinutes() + n);
      else d.setUTCSeconds(d.getUTCSeconds() + n);
    }
    return d.toISOString().slice(0, 10);
  }
  return toIsoDay(t, format);
}

/** Whether a partition value is inside the table's projection for that column. */
export function projectionAccepts(params: Record<string, string>, column: string, value: string, now = new Date()): boolean {
  const p = (k: string): string | undefined => params[`projection.${column}.${k}`];
  const type = (p('type') ?? '').toLowerCase();
  if (type === 'date') {
    const format = p('format') ?? 'yyyy-MM-dd';
    const iso = toIsoDay(value, format);
    if (!iso) return false;
    const range = p('range');
    if (!range) return true;
    const [lo, hi] = range.split(',');
    const l = rangeBound(lo ?? '', format, now);
    const h = rangeBound(hi ?? '', format, now);
    return (!l || iso >= l) && (!h || iso <= h);
  }
  if (type === 'integer') {
    if (!/^-?\d+$/.test(value)) return false;
    const [lo, hi] = (p('range') ?? '').split(',').map(Number);
    const v = Number(value);
    return (Number.isNaN(lo) || v >= lo) && (Number.isNaN(hi) || v <= hi);
  }
  if (type === 'enum') return (p('values') ?? '').split(',').map((s) => s.trim()).includes(value);
  return true; // injected: any value
}

/** Lists a table's partitions on disk (projection template, or Hive `key=value/` folders). */
export function listPartitions(table: GlueTableInput, rootDir: string, now = new Date()): Partition[] {
  const keys = (table.PartitionKeys ?? []).map((k) => k.Name);
  if (keys.length === 0) return [];
  const params = table.Parameters ?? {};
  const location = table.StorageDescriptor?.Location ?? '';
  const projection = (params['projection.enabled'] ?? '').toLowerCase() === 'true';
  let template = projection ? params['storage.location.template'] : undefined;
  if (!template) {
    const base = location.endsWith('/') ? location : `${location}/`;
    template = base + keys.map((k) => `${k}=\${${k}}`).join('/') + '/';
  }
  const { bucket, key } = parseS3Uri(template);
  const segments = key.split('/').filter((s) => s !== '');
  const results: Partition[] = [];
  const walk = (dir: string, depth: number, values: Record<string, string>): void => {
    if (depth === segments.length) {
      if (keys.every((k) => values[k] !== undefined)) results.push({ values: keys.map((k) => values[k]), dir });
      return;
    }
    const seg = segments[depth];
    if (!seg.includes('${')) { walk(join(dir, seg), depth + 1, values); return; }
    const names: string[] = [];
    const re = new RegExp('^' + seg.split(/(\$\{[^}]+\})/).map((part) => {
      const m = /^\$\{([^}]+)\}$/.exec(part);
      if (m) { names.push(m[1]); return '(.+?)'; }
      return escapeRe(part);
    }).join('') + '$');
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (hidden(e.name)) continue;
      const m = re.exec(e.name);
      if (!m) continue;
      const next = { ...values };
      let ok = true;
      names.forEach((n, idx) => {
        let v = m[idx + 1];
        try { v = decodeURIComponent(v); } catch { /* keep raw */ }
        if (next[n] !== undefined && next[n] !== v) ok = false;
        next[n] = v;
        if (projection && !projectionAccepts(params, n, v, now)) ok = false;
      });
      if (ok) walk(join(dir, e.name), depth + 1, next);
    }
  };
  walk(join(rootDir, bucket), 0, {});
  return results;
}

/** One UNION ALL branch of a table: a partition (or the whole unpartitioned table) and its files. */
export interface TableGroup {
  readonly values: string[];
  readonly files: DataFile[];
}

/** A table's files on disk right now, by partition (empty partitions left out). */
export function tableLayout(table: GlueTableInput, rootDir: string, now = new Date()): TableGroup[] {
  if ((table.PartitionKeys ?? []).length === 0) {
    const { bucket, key } = parseS3Uri(table.StorageDescriptor?.Location ?? '');
    const files = listDataFiles(join(rootDir, bucket, key));
    return files.length > 0 ? [{ values: [], files }] : [];
  }
  return listPartitions(table, rootDir, now)
    .map((part) => ({ values: part.values, files: listDataFiles(part.dir) }))
    .filter((g) => g.files.length > 0);
}
