// The migration report: the HTML is escaped, complete and self-contained (pure checks on the text),
// and in a real headless Chromium the charts draw, the key figures show, and the page makes no request.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { deriveThroughput, escapeHtml, renderReport, sampleReport, writeReport } from '../../src/report';
import { formatDuration, formatInt, jsonForScript, phaseSeconds } from '../../src/report/html';
import { launchChromium } from '../support/chromium';

const EVIL = 'sales."<script>alert(1)</script>"';
const SECTIONS = [
  'summary',
  'inventory',
  'assessment',
  'poc',
  'load',
  'cdc',
  'validation',
  'approvals',
  'cutover',
  'fallback',
];

/** The page's text with tags removed and entities decoded: roughly what a reader sees without JS. */
function visibleText(page: string): string {
  return page
    .replace(/<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<\/?span[^>]*>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('migration report', () => {
  const report = sampleReport();
  const page = renderReport(report);

  describe('HTML (pure)', () => {
    it('escapes table names and every other interpolated value', () => {
      assert.ok(!page.includes('<script>alert'), 'raw <script>alert found in the page');
      assert.ok(!/<\/script>"/.test(page), 'a table name closed a script element');
      assert.ok(page.includes(escapeHtml(EVIL)), 'the escaped table name is shown');
      assert.ok(page.includes('inventory.&quot;stock ü € 日本&quot;'), 'unicode kept, quotes escaped');
      // The approval reason holds a `<`: escaped in the text, \u003c in the embedded JSON.
      assert.ok(page.includes('Saturday window, &lt;15 min outage agreed'));
      assert.equal(escapeHtml(`a&b<c>"d"'e'`), 'a&amp;b&lt;c&gt;&quot;d&quot;&#39;e&#39;');
      assert.equal(
        jsonForScript({ t: '</script><!--\u2028' }),
        '{"t":"\\u003c/script\\u003e\\u003c!--\\u2028"}',
      );
    });

    it('embeds the data as JSON that parses back to the report', () => {
      const m = /<script type="application\/json" id="ferry-report-data">([\s\S]*?)<\/script>/.exec(page);
      assert.ok(m, 'data block missing');
      const data = JSON.parse(m[1] as string) as { report: unknown; throughput: unknown[] };
      assert.deepEqual(data.report, JSON.parse(JSON.stringify(report)));
      assert.ok(data.throughput.length > 0, 'a throughput series was derived from the table timings');
    });

    it('has every section', () => {
      for (const id of SECTIONS) assert.ok(page.includes(`<section id="${id}">`), `section ${id} missing`);
      for (const canvas of ['chart-throughput', 'chart-cdc-lag'])
        assert.ok(page.includes(`id="${canvas}"`), canvas);
      assert.ok(
        /class="sev sev-blocker"/.test(page) && /class="sev sev-warning"/.test(page),
        'severity colours',
      );
      assert.ok(page.includes('class="freeze sla-ok"'), 'write freeze within SLA is marked green');
    });

    it('shows the key figures as plain text', () => {
      const text = visibleText(page);
      const totals = report.load?.totals;
      assert.ok(totals);
      assert.ok(text.includes(`Total rows ${formatInt(totals.rows)}`), 'total rows');
      assert.ok(text.includes('Tables 5'), 'tables');
      assert.ok(text.includes('8,420 ms'), 'write freeze');
      assert.ok(text.includes('Validation mismatches 2'), 'validation mismatches');
      for (const p of report.phases) {
        assert.ok(text.includes(`${p.name}: ${formatDuration(phaseSeconds(p))}`), `phase ${p.name} duration`);
      }
      for (const who of ['alice@example.com', 'bob@example.com', 'carol@example.com'])
        assert.ok(text.includes(who));
    });

    it('marks a write freeze over the SLA red', () => {
      const r = sampleReport();
      assert.ok(r.cutover);
      r.cutover = { ...r.cutover, writeFreezeMs: 1_200_000, withinSla: false };
      const over = renderReport(r);
      assert.ok(over.includes('class="freeze sla-breach"'));
      assert.ok(visibleText(over).includes('1,200,000 ms'));
      assert.ok(visibleText(over).includes('over SLA'));
    });

    it('inlines Chart.js and references nothing on the network', () => {
      assert.ok(page.length > 150_000, 'Chart.js is inlined');
      assert.ok(/Chart\.js v4/.test(page), 'Chart.js banner present');
      assert.ok(!/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(page), 'a src/href points to the network');
      assert.ok(!/@import|url\(\s*["']?https?:/i.test(page), 'CSS loads something from the network');
      assert.ok(!/sourceMappingURL/.test(page), 'source-map comment kept');
      // Only our three scripts; none with a src.
      assert.equal((page.match(/<script\b/gi) ?? []).length, 3);
      assert.ok(!/<script[^>]*\bsrc=/i.test(page));
    });

    it('renders a report with only the required fields', () => {
      const minimal = renderReport({
        migration: 'm',
        workflowId: 'w',
        generatedAt: '2026-01-01T00:00:00Z',
        database: 'db',
        owners: [],
        sla: {},
        phases: [{ name: 'assess', startedAt: '2026-01-01T00:00:00Z', status: 'running' }],
        approvals: [],
        findings: [],
      });
      for (const id of SECTIONS) assert.ok(minimal.includes(`<section id="${id}">`), `section ${id} missing`);
      assert.ok(visibleText(minimal).includes('assess: running'));
    });

    it('derives throughput by spreading each table over its own run', () => {
      const s = deriveThroughput([
        {
          key: 'a',
          source: 'a',
          target: 'a',
          state: 'Table completed',
          rows: 1000,
          bytes: 10_000,
          segments: 1,
          segmentsDone: 1,
          startedAt: '2026-01-01T00:00:00Z',
          finishedAt: '2026-01-01T00:00:10Z',
        },
        {
          key: 'b',
          source: 'b',
          target: 'b',
          state: 'Before load',
          rows: 0,
          bytes: 0,
          segments: 1,
          segmentsDone: 0,
        },
      ]);
      assert.equal(s.length, 10);
      for (const x of s) assert.equal(x.rowsPerSecond, 100);
      assert.equal(s.at(-1)?.at, '2026-01-01T00:00:10.000Z');
      assert.deepEqual(deriveThroughput([]), []);
    });
  });

  describe('in headless Chromium', function () {
    this.timeout(120_000);
    let browser: Browser | undefined;
    let dir: string;
    let file: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-report-'));
      file = await writeReport(report, path.join(dir, 'nested', 'report.html'));
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('writes the file atomically, leaving no temporary file', () => {
      assert.equal(fs.readFileSync(file, 'utf8'), page);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['report.html']);
    });

    it('draws the charts, shows the key figures, logs no error and makes no request', async () => {
      assert.ok(browser);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const tab = await context.newPage();
        const requests: string[] = [];
        const problems: string[] = [];
        tab.on('request', (req) => requests.push(req.url()));
        tab.on('console', (msg) => {
          if (msg.type() === 'error' || msg.type() === 'warning')
            problems.push(`${msg.type()}: ${msg.text()}`);
        });
        tab.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
        // An escaping bug in a table name would run its alert(1).
        tab.on('dialog', (dialog) => {
          problems.push(`dialog: ${dialog.message()}`);
          void dialog.dismiss();
        });
        const url = pathToFileURL(file).href;
        await tab.goto(url, { waitUntil: 'load' });
        await tab.waitForFunction(
          'document.documentElement.getAttribute("data-charts-drawn") === "2"',
          undefined,
          {
            timeout: 30_000,
          },
        );

        const charts = (await tab.evaluate(`(() => ({
          instances: Object.keys(Chart.instances).length,
          canvases: Array.from(document.querySelectorAll('canvas')).map((c) => ({
            id: c.id, width: c.width, height: c.height, box: c.getBoundingClientRect().height,
          })),
        }))()`)) as {
          instances: number;
          canvases: { id: string; width: number; height: number; box: number }[];
        };
        assert.equal(charts.instances, 2, 'Chart.instances');
        assert.deepEqual(
          charts.canvases.map((c) => c.id),
          ['chart-throughput', 'chart-cdc-lag'],
        );
        for (const c of charts.canvases)
          assert.ok(c.width > 0 && c.height > 0 && c.box > 0, `${c.id} has no size`);

        // Pixels were drawn: some canvas pixel is not transparent.
        const painted = (await tab.evaluate(`Array.from(document.querySelectorAll('canvas')).map((c) => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
          return false;
        })`)) as boolean[];
        assert.deepEqual(painted, [true, true]);

        const text = await tab.innerText('body');
        const totals = report.load?.totals;
        assert.ok(totals);
        for (const want of [
          formatInt(totals.rows),
          '8,420 ms',
          'within SLA',
          'Validation mismatches',
          'alice@example.com',
          'bob@example.com',
          'carol@example.com',
          EVIL,
          'inventory."stock ü € 日本"',
        ]) {
          assert.ok(text.includes(want), `visible text lacks ${JSON.stringify(want)}`);
        }
        assert.match(text, /Validation mismatches\s+2/);
        assert.match(text, /Tables\s+5/);
        const freezeColour = await tab.evaluate(`document.querySelector('#cutover p.freeze').className`);
        assert.equal(freezeColour, 'freeze sla-ok');

        assert.deepEqual(problems, [], 'console errors or warnings');
        const network = requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'));
        assert.deepEqual(network, [], 'requests other than file: and data:');
        assert.deepEqual(requests, [url], 'only the page itself was loaded');
      } finally {
        await context.close();
      }
    });
  });
});
