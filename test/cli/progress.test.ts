/** `local`'s progress: what running executions wait for on a terminal, a status line at least every 30 s in a pipe. */
import { progressPrinter } from '../../cli/commands/local';

function harness(tty: boolean) {
  let now = 0;
  const out: string[] = [];
  const err: string[] = [];
  const print = progressPrinter({ tty, now: () => now, out: (s) => out.push(s), err: (s) => err.push(s), columns: 200 });
  return { print, out, err, advance: (ms: number) => { now += ms; } };
}

const waiting = { 'facility_extract query QUEUED (polling)': 2, 'state_counts query RUNNING (polling)': 1 };

test('a pipe gets the steps on stdout and an execution status line at least every 30 s, with what executions wait for', () => {
  const h = harness(false);
  h.print({ kind: 'step', message: 'uploaded 9 objects' });
  h.print({ kind: 'executions', finished: 0, total: 9, waiting });
  expect(h.out).toEqual(['  ✓ uploaded 9 objects\n']);
  h.advance(29_999);
  h.print({ kind: 'executions', finished: 3, total: 9, waiting });
  expect(h.out).toHaveLength(1);
  h.advance(1);
  h.print({ kind: 'executions', finished: 3, total: 9, waiting });
  expect(h.out[1]).toBe('  … 3/9 executions finished; waiting: 2 facility_extract query QUEUED (polling), 1 state_counts query RUNNING (polling)\n');
  h.advance(10_000);
  h.print({ kind: 'executions', finished: 4, total: 9, waiting });
  expect(h.out).toHaveLength(2);
  h.advance(20_000);
  h.print({ kind: 'executions', finished: 5, total: 9 });
  expect(h.out[2]).toBe('  … 5/9 executions finished\n');
  expect(h.err).toEqual([]);
});

test('a terminal gets a bar on stderr that says what the executions wait for, and a final newline', () => {
  const h = harness(true);
  h.print({ kind: 'executions', finished: 3, total: 9, waiting });
  expect(h.err[0]).toMatch(/^\r\x1b\[2K {2}\[#{10}\.{20}\] 3\/9 executions finished; waiting: 2 facility_extract query QUEUED \(polling\), 1 state_counts query RUNNING \(polling\)$/);
  h.print({ kind: 'executions', finished: 9, total: 9, waiting: {} });
  expect(h.err[1]).toMatch(/\] 9\/9 executions finished\n$/);
  expect(h.out).toEqual([]);
});

test('the terminal line is cut to the terminal width', () => {
  let n = 0;
  const err: string[] = [];
  const print = progressPrinter({ tty: true, now: () => n++, err: (s) => err.push(s), out: () => undefined, columns: 60 });
  print({ kind: 'executions', finished: 1, total: 9, waiting });
  expect(err[0].replace('\r\x1b[2K', '').length).toBeLessThanOrEqual(59);
  expect(err[0].endsWith('…')).toBe(true);
});
