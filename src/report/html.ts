// Renders a MigrationReport as one self-contained HTML page: inline CSS, Chart.js inlined, the data as
// JSON in the page. Opening it makes no network request (a CSP forbids any), so it can be mailed or
// archived with the change ticket. Every figure a reader checks is plain text; the charts only add shape.
import fs from 'node:fs';
import path from 'node:path';
import type { Owner } from '../config/schema';
import type { LagSample, MigrationReport, ReportPhase, ThroughputSample } from './types';
import type { TableStats } from '../workflows/definitions';

/** HTML-escapes text for element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ENTITIES[c] as string);
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * JSON safe inside a `<script>` element: `<`, `>`, `&` and the JS line separators are written as
 * `\uXXXX`, so a table named `</script><script>...` cannot end the element or start another one.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * JavaScript source safe inside a `<script>` element. `</script` can only occur in a valid script
 * inside a string, regex or comment, where `<\/script` means the same; `<!--` would switch the HTML
 * parser into its "escaped" script state. The source-map comment is dropped: it names a file that is
 * not shipped with the page.
 */
export function inlineScript(source: string): string {
  return source
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--')
    .replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n');
}

let chartJsSource: string | undefined;

/**
 * Chart.js's UMD build (defines `window.Chart`), read once from the installed package. chart.js 4's
 * `exports` map hides `dist/chart.umd.min.js` from require.resolve, so it is found beside the package's
 * main file (`dist/chart.cjs`).
 */
export function chartJsPath(): string {
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

function chartJs(): string {
  chartJsSource ??= inlineScript(fs.readFileSync(chartJsPath(), 'utf8'));
  return chartJsSource;
}

/**
 * A throughput series from the tables' start and finish times, for reports without measured samples.
 * Each table's rows and bytes are spread evenly over its own [startedAt, finishedAt] and summed per
 * time bucket (a table with no duration counts in the bucket of its finish), so a long table shows as
 * a plateau rather than a spike at its end.
 */
export function deriveThroughput(tables: TableStats[], maxBuckets = 24): ThroughputSample[] {
  const spans = tables
    .map((t) => ({ s: Date.parse(t.startedAt ?? ''), f: Date.parse(t.finishedAt ?? ''), t }))
    .filter((x) => Number.isFinite(x.s) && Number.isFinite(x.f) && x.f >= x.s);
  if (spans.length === 0) return [];
  const t0 = Math.min(...spans.map((x) => x.s));
  const t1 = Math.max(...spans.map((x) => x.f));
  const total = Math.max(t1 - t0, 1000);
  const buckets = Math.max(1, Math.min(maxBuckets, Math.ceil(total / 1000)));
  const width = total / buckets;
  const rows = new Array<number>(buckets).fill(0);
  const bytes = new Array<number>(buckets).fill(0);
  const indexOf = (ms: number) => Math.min(buckets - 1, Math.max(0, Math.floor((ms - t0) / width)));
  for (const { s, f, t } of spans) {
    if (f === s) {
      rows[indexOf(f)] += t.rows;
      bytes[indexOf(f)] += t.bytes;
      continue;
    }
    for (let i = indexOf(s); i <= indexOf(f); i++) {
      const from = Math.max(s, t0 + i * width);
      const to = Math.min(f, t0 + (i + 1) * width);
      const share = Math.max(0, to - from) / (f - s);
      rows[i] += t.rows * share;
      bytes[i] += t.bytes * share;
    }
  }
  const seconds = width / 1000;
  return rows.map((r, i) => ({
    at: new Date(t0 + (i + 1) * width).toISOString(),
    rowsPerSecond: Math.round(r / seconds),
    bytesPerSecond: Math.round(bytes[i] / seconds),
  }));
}

// ---- formatting ---------------------------------------------------------------------------------

export function formatInt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `42.0 s`, `4m 05s`, `1h 02m 03s`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${s}s` : `${m}m ${s}s`;
}

/** `2026-03-01 10:15:00 UTC`; an unparsable value is shown as given. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '–';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/** A phase's duration: as recorded, else from its two times; undefined while it runs. */
export function phaseSeconds(p: ReportPhase): number | undefined {
  if (p.seconds !== undefined) return p.seconds;
  if (!p.endedAt) return undefined;
  const d = (Date.parse(p.endedAt) - Date.parse(p.startedAt)) / 1000;
  return Number.isFinite(d) ? d : undefined;
}

// ---- HTML pieces --------------------------------------------------------------------------------

/** Escapes interpolated values; `raw()` marks already-built HTML. */
class Raw {
  constructor(readonly html: string) {}
}
const raw = (html: string) => new Raw(html);

function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] as string;
  values.forEach((v, i) => {
    out += piece(v) + (strings[i + 1] as string);
  });
  return raw(out);
}

function piece(v: unknown): string {
  if (v instanceof Raw) return v.html;
  if (Array.isArray(v)) return v.map(piece).join('');
  return escapeHtml(v);
}

function table(headers: string[], rows: unknown[][], cls = ''): Raw {
  return html`<table class="${cls}">
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((c) => (c instanceof Raw && c.html.startsWith('<td') ? c : html`<td>${c}</td>`))}
          </tr> `,
      )}
    </tbody>
  </table>`;
}

function section(id: string, title: string, body: Raw): Raw {
  return html`<section id="${id}">
    <h2>${title}</h2>
    ${body}
  </section> `;
}

const none = (text: string) => html`<p class="none">${text}</p>`;

function owners(list: Owner[]): Raw {
  if (list.length === 0) return none('No owners recorded.');
  return table(
    ['name', 'role', 'email', 'phone'],
    list.map((o) => [o.name, o.role ?? '', o.email ?? '', o.phone ?? '']),
  );
}

function keyFigures(r: MigrationReport): Raw {
  const tables = r.load?.totals.tables ?? r.tableStatistics?.length;
  const rows = r.load?.totals.rows ?? r.tableStatistics?.reduce((n, t) => n + t.fullLoadRows, 0);
  const items: [string, string, Raw | string][] = [
    ['tables', 'Tables', formatInt(tables)],
    ['total-rows', 'Total rows', formatInt(rows)],
    ['total-bytes', 'Total bytes', formatBytes(r.load?.totals.bytes)],
    ['write-freeze', 'Write freeze', r.cutover ? freeze(r) : 'no cutover yet'],
    [
      'validation-mismatches',
      'Validation mismatches',
      r.validation ? formatInt(r.validation.mismatches) : 'not validated',
    ],
  ];
  const phases = r.phases.map((p) => {
    const s = phaseSeconds(p);
    return html`<li>
      <span class="phase-name">${p.name}</span>: ${s === undefined ? p.status : formatDuration(s)}
    </li>`;
  });
  return html`<section id="summary">
    <h2>Key figures</h2>
    <dl class="figures">
      ${items.map(
        ([id, label, value]) =>
          html`<div id="figure-${id}">
            <dt>${label}</dt>
            <dd>${value}</dd>
          </div>`,
      )}
    </dl>
    <h3>Phase durations</h3>
    <ul class="phases">
      ${phases}
    </ul>
  </section> `;
}

function freeze(r: MigrationReport): Raw {
  const c = r.cutover;
  if (!c) return raw('');
  const sla = c.slaMaxDowntimeMs === undefined ? 'no SLA set' : `SLA ${formatInt(c.slaMaxDowntimeMs)} ms`;
  const verdict = c.withinSla ? 'within SLA' : 'over SLA';
  return html`<span class="${c.withinSla ? 'sla-ok' : 'sla-breach'}"
    >${formatInt(c.writeFreezeMs)} ms (${sla}): ${verdict}</span
  >`;
}

function inventory(r: MigrationReport): Raw {
  const sla = r.sla;
  return section(
    'inventory',
    'Inventory and SLA',
    html`<dl class="facts">
        <dt>Migration</dt>
        <dd>${r.migration}</dd>
        <dt>Workflow</dt>
        <dd>${r.workflowId}</dd>
        <dt>Database</dt>
        <dd>${r.database}</dd>
        <dt>Application</dt>
        <dd>${r.application ?? '–'}</dd>
        <dt>Max downtime</dt>
        <dd>${sla.maxDowntimeSeconds === undefined ? 'not set' : formatDuration(sla.maxDowntimeSeconds)}</dd>
        <dt>RPO</dt>
        <dd>${sla.rpoSeconds === undefined ? 'not set' : formatDuration(sla.rpoSeconds)}</dd>
        <dt>Business hours</dt>
        <dd>${sla.businessHours ?? 'not set'}</dd>
      </dl>
      <h3>Owners</h3>
      ${owners(r.owners)}
      <h3>Phases</h3>
      ${table(
        ['phase', 'status', 'started', 'ended', 'duration'],
        r.phases.map((p) => [
          p.name,
          html`<td class="status-${p.status}">${p.status}</td>`,
          formatTime(p.startedAt),
          formatTime(p.endedAt),
          formatDuration(phaseSeconds(p)),
        ]),
      )}`,
  );
}

function assessment(r: MigrationReport): Raw {
  const a = r.assessment;
  if (!a) return section('assessment', 'Assessment findings', none('No assessment recorded.'));
  if (a.skipped) return section('assessment', 'Assessment findings', none('The assessment was skipped.'));
  return section(
    'assessment',
    'Assessment findings',
    html`<p>
        ${a.blocked ? 'Blocked' : 'Not blocked'}${a.overriddenBy ? `; blockers overridden by ${a.overriddenBy}` : ''}.
        Blockers: ${formatInt(a.counts.blocker)}, warnings: ${formatInt(a.counts.warning)}, info:
        ${formatInt(a.counts.info)}. Ran ${formatTime(a.startedAt)} for ${formatDuration(a.seconds)}.
      </p>
      ${
        a.findings.length === 0
          ? none('No findings.')
          : table(
              ['severity', 'rule', 'object', 'message', 'advice'],
              a.findings.map((f) => [
                html`<td class="sev sev-${f.severity}">${f.severity}</td>`,
                f.id,
                f.object,
                f.message,
                f.advice,
              ]),
              'findings',
            )
      }`,
  );
}

function poc(r: MigrationReport): Raw {
  const p = r.poc;
  if (!p) return section('poc', 'Proof of concept', none('No proof of concept recorded.'));
  const rows: [string, Raw | string][] = [['Outcome', p.outcome]];
  if (p.dump) rows.push(['Dump', `${formatBytes(p.dump.bytes)} in ${formatDuration(p.dump.seconds)}`]);
  if (p.restore)
    rows.push([
      'Restore',
      `${formatDuration(p.restore.seconds)}, ${formatInt(p.restore.warnings)} warnings${p.restore.scratchDatabase ? ` (into ${p.restore.scratchDatabase})` : ''}`,
    ]);
  if (p.verify)
    rows.push([
      'Verify',
      `${p.verify.ok ? 'equal' : 'DIFFERENT'}: ${formatInt(p.verify.tables)} tables counted, ${formatInt(p.verify.checksummed)} checksummed${p.verify.differences.length ? `; ${p.verify.differences.join('; ')}` : ''}`,
    ]);
  if (p.estimate)
    rows.push([
      'Estimate',
      `${formatDuration(p.estimate.estimatedSeconds)} for the whole database at ${formatBytes(p.estimate.bytesPerSecond)}/s (${p.estimate.basis})`,
    ]);
  return section(
    'poc',
    'Proof of concept',
    html`<dl class="facts">
      ${rows.map(
        ([k, v]) =>
          html`<dt>${k}</dt>
            <dd>${v}</dd>`,
      )}
    </dl>`,
  );
}

function chart(id: string, label: string): Raw {
  return html`<div class="chart"><canvas id="${id}" role="img" aria-label="${label}"></canvas></div>`;
}

function load(r: MigrationReport, throughput: ThroughputSample[], derived: boolean): Raw {
  const l = r.load;
  if (!l) return section('load', 'Full load', none('No full load recorded.'));
  const t = l.totals;
  return section(
    'load',
    'Full load',
    html`<p>
        ${formatInt(t.completed)} of ${formatInt(t.tables)} tables completed, ${formatInt(t.rows)} rows,
        ${formatBytes(t.bytes)}.
      </p>
      ${table(
        [
          'table',
          'target',
          'state',
          'rows',
          'bytes',
          'segments',
          'started',
          'finished',
          'duration',
          'rows/s',
        ],
        l.tables.map((s) => {
          const secs = s.seconds ?? spanSeconds(s.startedAt, s.finishedAt);
          return [
            s.key,
            s.target,
            html`<td class="${s.error ? 'bad' : ''}">${s.state}${s.error ? `: ${s.error}` : ''}</td>`,
            html`<td class="num">${formatInt(s.rows)}</td>`,
            html`<td class="num">${formatBytes(s.bytes)}</td>`,
            `${formatInt(s.segmentsDone)}/${formatInt(s.segments)}`,
            formatTime(s.startedAt),
            formatTime(s.finishedAt),
            formatDuration(secs),
            html`<td class="num">${secs ? formatInt(s.rows / secs) : '–'}</td>`,
          ];
        }),
        'tables',
      )}
      <h3>Throughput over time</h3>
      ${
        throughput.length === 0
          ? none('No throughput samples and no table timings to derive them from.')
          : html`<p class="note">
                ${derived ? 'Derived from each table\u2019s start and finish times.' : 'Measured samples.'}
                Peak ${formatInt(Math.max(...throughput.map((x) => x.rowsPerSecond)))} rows/s.
              </p>
              ${chart('chart-throughput', 'Rows and bytes per second over time')}`
      }`,
  );
}

function spanSeconds(from?: string, to?: string): number | undefined {
  const d = (Date.parse(to ?? '') - Date.parse(from ?? '')) / 1000;
  return Number.isFinite(d) ? d : undefined;
}

function cdc(samples: LagSample[]): Raw {
  if (samples.length === 0) return section('cdc', 'CDC lag', none('No CDC lag samples recorded.'));
  const last = samples[samples.length - 1] as LagSample;
  const max = samples.reduce((m, s) => (s.lagSeconds > m.lagSeconds ? s : m), last);
  return section(
    'cdc',
    'CDC lag',
    html`<p>
        Latest lag ${formatDuration(last.lagSeconds)} (${formatBytes(last.lagBytes)}) at
        ${formatTime(last.at)}; highest ${formatDuration(max.lagSeconds)} (${formatBytes(max.lagBytes)}) at
        ${formatTime(max.at)}.
      </p>
      ${chart('chart-cdc-lag', 'Replication lag over time')}`,
  );
}

function validation(r: MigrationReport): Raw {
  const v = r.validation;
  if (!v) return section('validation', 'Validation', none('No validation recorded.'));
  if (!v.enabled) return section('validation', 'Validation', none('Validation is not enabled.'));
  return section(
    'validation',
    'Validation',
    html`<p>
        ${formatInt(v.passes)} passes, ${formatInt(v.mismatches)} mismatched records, ${formatInt(v.pending)}
        pending${v.at ? `, as of ${formatTime(v.at)}` : ''}.
      </p>
      ${table(
        ['table', 'target', 'state', 'source rows', 'target rows', 'mismatched', 'pending', 'last validated'],
        v.tables.map((t) => [
          t.key,
          t.target,
          html`<td
            class="${t.state === 'Validated' ? 'good' : t.state === 'Pending records' || t.state === 'Pending validation' ? 'warn' : 'bad'}"
          >
            ${t.state}${t.error ? `: ${t.error}` : ''}
          </td>`,
          html`<td class="num">${formatInt(t.sourceRows)}</td>`,
          html`<td class="num">${formatInt(t.targetRows)}</td>`,
          html`<td class="num">${formatInt(t.mismatched)}</td>`,
          html`<td class="num">${formatInt(t.pending)}</td>`,
          formatTime(t.lastValidatedAt),
        ]),
        'validation',
      )}`,
  );
}

function tableStatistics(r: MigrationReport): Raw {
  const ts = r.tableStatistics;
  if (!ts || ts.length === 0) return raw('');
  return section(
    'table-statistics',
    'Table statistics',
    table(
      [
        'table',
        'target',
        'full-load rows',
        'inserts',
        'updates',
        'deletes',
        'DDLs',
        'validation',
        'last update',
      ],
      ts.map((t) => [
        t.table,
        t.target,
        html`<td class="num">${formatInt(t.fullLoadRows)}</td>`,
        html`<td class="num">${formatInt(t.inserts)}</td>`,
        html`<td class="num">${formatInt(t.updates)}</td>`,
        html`<td class="num">${formatInt(t.deletes)}</td>`,
        html`<td class="num">${formatInt(t.ddls)}</td>`,
        t.validationState,
        formatTime(t.lastUpdateTime),
      ]),
    ),
  );
}

function approvals(r: MigrationReport): Raw {
  if (r.approvals.length === 0) return section('approvals', 'Approvals', none('No approvals recorded.'));
  return section(
    'approvals',
    'Approvals',
    table(
      ['gate', 'decision', 'by', 'when', 'why'],
      r.approvals.map((a) => [
        a.gate,
        html`<td class="${a.decision === 'approved' ? 'good' : 'bad'}">${a.decision}</td>`,
        a.by,
        formatTime(a.at),
        a.reason ?? '',
      ]),
    ),
  );
}

function cutover(r: MigrationReport): Raw {
  const c = r.cutover;
  if (!c) return section('cutover', 'Cutover', none('No cutover yet.'));
  const frozen = Date.parse(c.frozenAt);
  return section(
    'cutover',
    'Cutover',
    html`<p class="freeze ${c.withinSla ? 'sla-ok' : 'sla-breach'}">
        Measured write freeze: ${formatInt(c.writeFreezeMs)} ms;
        ${c.slaMaxDowntimeMs === undefined ? 'no maximum downtime set' : `maximum downtime (SLA) ${formatInt(c.slaMaxDowntimeMs)} ms`}:
        ${c.withinSla ? 'within SLA' : 'over SLA'}.
      </p>
      <p>Writes stopped ${formatTime(c.frozenAt)}; target took writes ${formatTime(c.switchedAt)}.</p>
      <ol class="timeline">
        ${c.steps.map((s) => {
          const offset = Date.parse(s.at) - frozen;
          return html`<li>
            <span class="when"
              >${formatTime(s.at)}${Number.isFinite(offset) ? ` (${offset >= 0 ? '+' : ''}${formatInt(offset)} ms)` : ''}</span
            >
            <span class="step">${s.name}</span
            >${s.detail ? html` <span class="detail">${s.detail}</span>` : ''}
          </li>`;
        })}
      </ol>`,
  );
}

function fallback(r: MigrationReport): Raw {
  const f = r.fallbackPlan;
  if (!f) return section('fallback', 'Fallback plan', none('No fallback plan recorded.'));
  return section(
    'fallback',
    'Fallback plan',
    html`<h3>Contacts</h3>
      ${owners(f.contacts)}
      <p>
        Applications to switch back: ${f.applications.length ? f.applications.join(', ') : 'none listed'}.
      </p>
      <ol class="steps">
        ${f.steps.map((s) => html`<li>${s}</li>`)}
      </ol>`,
  );
}

function findings(r: MigrationReport): Raw {
  const logs = r.serverLogs?.endpoints ?? [];
  if (r.findings.length === 0 && logs.length === 0) return raw('');
  return section(
    'findings',
    'Findings and server logs',
    html`${
      r.findings.length
        ? html`<ul>
            ${r.findings.map((f) => html`<li>${f}</li>`)}
          </ul>`
        : none('No findings.')
    }
    ${
      logs.length
        ? table(
            ['side', 'endpoint', 'readable', 'matched lines', 'errors'],
            logs.map((e) => [
              e.side,
              e.endpoint,
              e.readable ? 'yes' : `no${e.reason ? `: ${e.reason}` : ''}`,
              formatInt(e.matched),
              formatInt(e.errors),
            ]),
          )
        : ''
    }`,
  );
}

const STYLE = `
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --info: #0969da; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px; padding: 24px; color: #1f2328; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 32px; font-size: 18px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta, .note, .none { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
th { overflow-wrap: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; overflow-wrap: normal; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
dl.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 0; }
dl.figures div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
dl.figures dt { color: var(--muted); font-size: 12px; }
dl.figures dd { margin: 0; font-size: 18px; font-weight: 600; }
.sev { font-weight: 600; color: #fff; }
.sev-blocker { background: var(--bad); }
.sev-warning { background: #d4a72c; color: #1f2328; }
.sev-info { background: var(--info); }
.good, .status-done { color: var(--ok); }
.bad, .status-failed { color: var(--bad); }
.warn, .status-running { color: var(--warn); }
.sla-ok { color: var(--ok); font-weight: 600; }
.sla-breach { color: var(--bad); font-weight: 600; }
p.freeze { padding: 8px 12px; border-radius: 6px; border: 2px solid currentColor; }
.chart { position: relative; height: 280px; width: 100%; }
ol.timeline .when { color: var(--muted); font-variant-numeric: tabular-nums; }
ol.timeline .step { font-weight: 600; }
@media print { .chart { height: 220px; } section { break-inside: avoid; } }
`;

// Runs in the page: builds the charts from the embedded data, then marks the document so a headless
// check (and a person debugging) can tell the charts were drawn.
const CHARTS = `
(function () {
  var data = JSON.parse(document.getElementById('ferry-report-data').textContent);
  var drawn = 0;
  function label(at) { return String(at).slice(11, 19); }
  function draw(id, series, datasets) {
    var el = document.getElementById(id);
    if (!el || typeof Chart === 'undefined' || series.length === 0) return;
    new Chart(el, {
      type: 'line',
      data: { labels: series.map(function (s) { return label(s.at); }), datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: { y: { beginAtZero: true, position: 'left' }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } }
      }
    });
    drawn++;
  }
  var tp = data.throughput || [];
  draw('chart-throughput', tp, [
    { label: 'rows/s', data: tp.map(function (s) { return s.rowsPerSecond; }), borderColor: '#0969da', yAxisID: 'y', tension: 0.2 },
    { label: 'bytes/s', data: tp.map(function (s) { return s.bytesPerSecond; }), borderColor: '#8250df', yAxisID: 'y1', tension: 0.2 }
  ]);
  var lag = data.report.cdcLag || [];
  draw('chart-cdc-lag', lag, [
    { label: 'lag (s)', data: lag.map(function (s) { return s.lagSeconds; }), borderColor: '#cf222e', yAxisID: 'y', tension: 0.2 },
    { label: 'lag (bytes)', data: lag.map(function (s) { return s.lagBytes; }), borderColor: '#9a6700', yAxisID: 'y1', tension: 0.2 }
  ]);
  document.documentElement.setAttribute('data-charts-drawn', String(drawn));
})();
`;

/** The report as one self-contained HTML page. */
export function renderReport(r: MigrationReport): string {
  const measured = r.throughput && r.throughput.length > 0;
  const throughput = measured ? (r.throughput as ThroughputSample[]) : deriveThroughput(r.load?.tables ?? []);
  const data = { report: r, throughput, throughputDerived: !measured };
  const title = `Migration report: ${r.migration}`;
  const body = html`<header>
      <h1>${title}</h1>
      <p class="meta">
        Database ${r.database}${r.application ? ` (${r.application})` : ''} · workflow ${r.workflowId} ·
        generated ${formatTime(r.generatedAt)}
      </p>
    </header>
    ${keyFigures(r)} ${inventory(r)} ${assessment(r)} ${poc(r)} ${load(r, throughput, !measured)}
    ${cdc(r.cdcLag ?? [])} ${validation(r)} ${tableStatistics(r)} ${approvals(r)} ${cutover(r)} ${fallback(r)}
    ${findings(r)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.html}
<script type="application/json" id="ferry-report-data">${jsonForScript(data)}</script>
<script>${chartJs()}</script>
<script>${CHARTS}</script>
</body>
</html>
`;
}
