/**
 * report.html in a real browser: headless Chromium (Debian's `chromium`, driven through
 * playwright-core) opens the file with networking off, takes a screenshot, and the test checks
 * that every figure rendered (non-blank pixels, sizes, element counts) with no console errors.
 * Skipped, with the reason in its name, where /usr/bin/chromium is absent; CI installs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeReport } from '../../src/report';
import { writeSyntheticRun } from './synthetic-run';
import { tmpDir } from './helpers';

const CHROMIUM = process.env.SIL_CHROMIUM ?? '/usr/bin/chromium';
const have = fs.existsSync(CHROMIUM);
const maybe = have ? it : it.skip;
const why = have ? '' : ` [skipped: ${CHROMIUM} not installed]`;

maybe(`report.html renders every figure in headless Chromium with no console errors${why}`, async () => {
  const { chromium } = await import('playwright-core');
  const root = tmpDir('browser');
  const profile = tmpDir('chromium-profile');
  const run = path.join(root, 'run');
  writeSyntheticRun(run, { langs: ['en', 'it', 'zh'], layers: 4, omit: ['eval/k_sweep.csv'] });
  const r = await writeReport(run, path.join(root, 'out'), { formats: ['html', 'svg'] });
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 900 },
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (q) => {
      if (!q.url().startsWith('file:')) requests.push(q.url());
    });
    await page.goto('file://' + path.join(r.outDir, 'report.html'), { waitUntil: 'load' });

    const figs = await page.$$eval('svg.sil-figure', (els) =>
      els.map((e) => {
        const b = e.getBoundingClientRect();
        return { id: e.id, w: b.width, h: b.height, paths: e.querySelectorAll('path').length };
      }),
    );
    expect(figs.map((f) => f.id)).toEqual(['delta-l2', 'score-mass', 'selected-fraction', 'selected-by-layer', 'sir-matrix', 'violation-matrix']);
    for (const f of figs) {
      const source = r.figures.find((x) => x.id === f.id)!.sourceSvg;
      const marks = (source.match(/<rect class="(cell|segment)"/g) ?? []).length;
      const texts = (source.match(/<text /g) ?? []).length;
      expect(f.w).toBeGreaterThan(200);
      expect(f.h).toBeGreaterThan(100);
      // every cell or bar segment is a path, and every text became at least one more
      expect(marks).toBeGreaterThan(0);
      expect(f.paths).toBeGreaterThanOrEqual(marks + texts);
    }
    // one panel per language in the per-language heatmaps, as parsed by the browser
    expect(await page.$$eval('svg#score-mass g[id^="score-mass-"]', (els) => els.map((e) => e.id))).toEqual(['score-mass-en', 'score-mass-it', 'score-mass-zh']);
    expect(await page.$$eval('#sir-matrix-table tbody tr', (els) => els.length)).toBe(3);
    expect(await page.textContent('#missing')).toContain('eval/k_sweep.csv');

    // every SVG file parses as SVG in the browser
    for (const f of fs.readdirSync(r.outDir).filter((x) => x.endsWith('.svg'))) {
      const src = fs.readFileSync(path.join(r.outDir, f), 'utf8');
      const err = await page.evaluate((s) => {
        const doc = new DOMParser().parseFromString(s, 'image/svg+xml');
        return doc.querySelector('parsererror')?.textContent ?? (doc.documentElement.nodeName === 'svg' ? '' : 'root is not svg');
      }, src);
      expect([f, err]).toEqual([f, '']);
    }

    // the screenshot of each figure is not blank: many distinct colours, plenty of non-white pixels
    for (const id of ['sir-matrix', 'score-mass']) {
      const shot = await page.locator(`svg#${id}`).screenshot({ type: 'png' });
      fs.writeFileSync(path.join(root, `${id}.png`), shot);
      const stats = await page.evaluate(async (b64) => {
        const img = new Image();
        img.src = 'data:image/png;base64,' + b64;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const g = c.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        const colours = new Set<number>();
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) ink++;
          colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
        return { ink: ink / (d.length / 4), colours: colours.size };
      }, shot.toString('base64'));
      expect(stats.ink).toBeGreaterThan(0.15);
      expect(stats.colours).toBeGreaterThan(20);
    }
    const full = await page.screenshot({ fullPage: true });
    expect(full.length).toBeGreaterThan(10000);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  } finally {
    await browser.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
