/**
 * The page in a real browser, opened from disk with every network request blocked and counted: the system's
 * Chromium (Debian's `chromium` package; nothing is installed or downloaded at test time), driven by playwright-core.
 * Skipped when /usr/bin/chromium is missing. `WRITE_REPORT_SCREENSHOT=1` also saves docs/images/report.png from the
 * page of a real local run of the shipped data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildReportFixture, REPO, shippedExpected, type ReportFixture } from './support/fixture';
import { writeLocalReport } from '../../cli/report';

const CHROMIUM = '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) ? describe : describe.skip;

withBrowser('the report page in Chromium, offline', () => {
  let f: ReportFixture;
  let browser: Browser;
  let profile: string;
  beforeAll(async () => {
    f = await buildReportFixture();
    profile = mkdtempSync(join(tmpdir(), 'report-chromium-'));
    // playwright gives the browser a fresh temporary profile of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    f?.cleanup();
    rmSync(profile, { recursive: true, force: true });
  });

  it('renders every chart and the diagram with a size, makes no request, and logs no error', async () => {
    const file = await writeLocalReport(f.workDir);
    expect(file).toBe(join(f.workDir, 'report.html'));
    const context = await browser.newContext({ viewport: { width: 1200, height: 1500 }, offline: true });
    const requests: string[] = [];
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url === `file://${file}`) return route.continue();
      requests.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`, { waitUntil: 'load' });

    const svgs = await page.$$eval('svg[aria-labelledby]', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { id: e.getAttribute('aria-labelledby'), width: r.width, height: r.height, marks: e.querySelectorAll('path, rect, polygon, text').length };
    }));
    const expected = shippedExpected();
    const snapshots = Object.keys(expected).length;
    const withReasons = Object.values(expected).filter((s) => s.quarantined > 0).length;
    expect(svgs).toHaveLength(snapshots * 3 + withReasons + 1);
    for (const s of svgs) {
      expect(s.width).toBeGreaterThan(100);
      expect(s.height).toBeGreaterThan(40);
      expect(s.marks).toBeGreaterThan(5);
    }
    const diagram = svgs.find((s) => s.id === 'sm-diagram')!;
    expect(diagram.width).toBeGreaterThan(600);
    expect(diagram.height).toBeGreaterThan(600);
    // Headings give the page its outline.
    const headings = await page.$$eval('h1, h2', (els) => els.map((e) => e.textContent));
    expect(headings).toEqual(['medlaunch-elt run report', ...Object.keys(expected).sort().reverse().map((d) => `Snapshot ${d}`), 'State machine']);

    const shot = join(profile, 'report.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  // The README's picture comes from a real local run of the shipped data: `WRITE_REPORT_SCREENSHOT=1 npx jest
  // test/report/browser.test.ts` runs the bundled CLI (`node scripts/bundle.mjs` first) and saves its page.
  (process.env.WRITE_REPORT_SCREENSHOT === '1' ? it : it.skip)('saves docs/images/report.png from a real local run', async () => {
    const work = join(profile, 'run');
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'medlaunch-elt.js'), 'local', '--workdir', work, '--json'], { cwd: profile, encoding: 'utf8', timeout: 280_000 });
    expect(r.status).toBe(0);
    const file = JSON.parse(r.stdout.trim().split('\n').pop()!).report as string;
    const context = await browser.newContext({ viewport: { width: 1200, height: 1500 }, offline: true });
    const page = await context.newPage();
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const shot = join(REPO, 'docs', 'images', 'report.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    await context.close();
  }, 300_000);
});
