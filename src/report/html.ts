/**
 * report.html: one self-contained file — inline CSS, every figure as inline SVG (text already as
 * paths, so no font is fetched), the matrices and top regions as tables, the run's manifest, and
 * what the run folder lacks. No script, no network.
 */
import type { RunData } from './run';
import type { Format, RenderedFigure, SkippedFigure } from './build';
import { esc } from './svg';

export interface HtmlInput {
  name: string;
  run: RunData;
  figures: RenderedFigure[];
  skipped: SkippedFigure[];
  regionsTable?: string;
  formats: Set<Format>;
}

const CSS = `
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px auto;max-width:1400px;padding:0 16px;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:0.2em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
figure{margin:1.5em 0;overflow-x:auto} figcaption{font-size:0.9em;color:#444;max-width:70em}
svg.sil-figure{max-width:100%;height:auto;display:block}
table.data{border-collapse:collapse;font-size:0.85em;margin:0.8em 0}
table.data th,table.data td{border:1px solid #ccc;padding:2px 8px;text-align:right}
table.data th{background:#f3f3f3} table.data td:nth-child(3) code{font-size:0.95em}
table.kv th{text-align:left;padding-right:1em;vertical-align:top} table.kv td{font-family:"DejaVu Sans Mono",monospace;font-size:0.85em}
.missing{background:#fff6e0;border:1px solid #e0b040;padding:8px 14px} .files a{margin-right:0.8em;font-size:0.85em}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:0.8em}
`;

function manifestTable(m: Record<string, unknown>): string {
  const show = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const rows: Array<[string, string]> = [];
  for (const key of ['command', 'version', 'created', 'languages', 'k', 'n_params', 'n_in_scope', 'backend', 'seed']) {
    if (key in m) rows.push([key, show(m[key])]);
  }
  const inputs = m.inputs;
  if (inputs && typeof inputs === 'object') {
    for (const [k, v] of Object.entries(inputs as Record<string, unknown>)) {
      const o = (v ?? {}) as Record<string, unknown>;
      rows.push([`input ${k}`, `${show(o.path)}${o.header_sha256 ? ` (header sha256 ${show(o.header_sha256)})` : ''}`]);
    }
  }
  if (m.options && typeof m.options === 'object') {
    for (const [k, v] of Object.entries(m.options as Record<string, unknown>)) rows.push([`option ${k}`, show(v)]);
  }
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

export function reportHtml(h: HtmlInput): string {
  const { run } = h;
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>sil report: ${esc(h.name)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>sil report: ${esc(h.name)}</h1>`,
    `<p>${h.figures.length} figure${h.figures.length === 1 ? '' : 's'} from <code>${esc(run.dir)}</code>.</p>`,
  ];
  if (run.missing.length || h.skipped.length) {
    parts.push('<section class="missing" id="missing"><h2>Missing from this run</h2>');
    if (run.missing.length) parts.push(`<p>Files not found: ${run.missing.map((f) => `<code>${esc(f)}</code>`).join(', ')}.</p>`);
    if (h.skipped.length) {
      parts.push('<ul>');
      for (const s of h.skipped) parts.push(`<li>${esc(s.title)} — not drawn: needs ${s.missing.map((f) => `<code>${esc(f)}</code>`).join(', ')}</li>`);
      parts.push('</ul>');
    }
    parts.push('</section>');
  }
  parts.push('<h2>Run</h2>');
  if (run.manifest) {
    parts.push(manifestTable(run.manifest));
    parts.push(`<details><summary>manifest.json</summary><pre>${esc(JSON.stringify(run.manifest, null, 2))}</pre></details>`);
  } else parts.push('<p>No <code>manifest.json</code> in this run folder.</p>');
  if (run.summary) parts.push(`<details><summary>summary.md</summary><pre>${esc(run.summary)}</pre></details>`);

  parts.push('<h2>Figures</h2>');
  for (const f of h.figures) {
    const links = (['svg', 'png', 'csv', 'tex'] as const)
      .filter((x) => h.formats.has(x) && (x !== 'tex' || f.tex))
      .map((x) => `<a href="${esc(f.id)}.${x}">${x.toUpperCase()}</a>`)
      .join('');
    parts.push(`<figure id="fig-${esc(f.id)}" class="sil">`);
    parts.push(f.svg);
    parts.push(`<figcaption><b>${esc(f.title)}.</b> ${esc(f.caption)} <span class="files">${links}</span></figcaption>`);
    if (f.tableHtml) parts.push(`<details><summary>table</summary>${f.tableHtml}</details>`);
    parts.push('</figure>');
  }
  if (h.regionsTable) {
    parts.push('<h2>Top regions</h2>');
    parts.push('<p>The best-ranked units (attention heads, neurons, rows or whole tensors) of each language by score mass (regions.csv).</p>');
    parts.push(h.regionsTable);
  }
  parts.push('</body></html>');
  return parts.join('\n') + '\n';
}
