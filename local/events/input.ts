/** What a target receives: the event, or the target's Input, InputPath or InputTransformer applied to it. */
import { InvalidEventPatternError } from './pattern';
import type { EventBridgeEvent } from './s3-events';
import type { EventTarget } from './types';

function jsonPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!path.startsWith('$.')) throw new InvalidEventPatternError(`unsupported JSON path '${path}'`);
  let cur: unknown = value;
  for (const part of path.slice(2).split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new InvalidEventPatternError(`unsupported JSON path '${path}'`);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[m[1]] : undefined;
    for (const idx of m[2].match(/\d+/g) ?? []) cur = Array.isArray(cur) ? cur[Number(idx)] : undefined;
  }
  return cur;
}

/** Applies a target's Input / InputPath / InputTransformer like EventBridge. */
export function targetInput(target: EventTarget, event: EventBridgeEvent, rule: { name: string; arn?: string }): unknown {
  if (target.input !== undefined) return JSON.parse(target.input);
  if (target.inputPath !== undefined) return jsonPath(event, target.inputPath);
  const tr = target.inputTransformer;
  if (!tr) return event;
  const values: Record<string, unknown> = {
    'aws.events.rule-arn': rule.arn ?? rule.name,
    'aws.events.rule-name': rule.name,
    'aws.events.event': event,
    'aws.events.event.json': event,
    'aws.events.event.ingestion-time': event.time,
  };
  for (const [k, p] of Object.entries(tr.InputPathsMap ?? {})) values[k] = jsonPath(event, p);
  const template = tr.InputTemplate;
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '"' && template[i - 1] !== '\\') inString = !inString;
    if (c === '<') {
      const end = template.indexOf('>', i);
      const name = end > i ? template.slice(i + 1, end) : '';
      if (end > i && name in values) {
        const v = values[name];
        if (inString) {
          out += v === undefined ? '' : typeof v === 'string' ? JSON.stringify(v).slice(1, -1) : JSON.stringify(v).replace(/"/g, '\\"');
        } else {
          out += v === undefined ? 'null' : JSON.stringify(v);
        }
        i = end;
        continue;
      }
    }
    out += c;
  }
  try {
    return JSON.parse(out);
  } catch {
    return out;
  }
}
