/**
 * report.html: one self-contained file — inline CSS, every figure as inline SVG (text already as
 * paths, so no font is fetched), the matrices and top regions as tables, the run's manifest, and
 * what the run folder lacks. No script, no network.
 */
import type { RunData } from './run';
import type { Format } from './formats';
import type { RenderedFigure, SkippedFigure } from './figure';
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
table.kv{border-collapse:collapse} table.kv th{text-align:left;padding:2px 1em 2px 0;vertical-align:top;white-space:nowrap} table.kv td{font-size:0.9em;padding:2px 0;overflow-wrap:anywhere} table.kv code{font-size:0.95em} .hash{color:#555;font-size:0.9em;margin-right:1em}
.missing{background:#fff6e0;border:1px solid #e0b040;padding:8px 14px} .files a{margin-right:0.8em;font-size:0.85em}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:0.8em}
`;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A value as readable text: lists joined, objects as `key value` pairs, numbers as written; '' for nothing. */
function plain(v: unknown): string {
  if (v === null || v === undefined || v === '') return '';
  if (Array.isArray(v)) return v.map(plain).filter(Boolean).join(', ');
  if (isObj(v))
    return Object.entries(v)
      .map(([k, x]) => (plain(x) === '' ? '' : `${k} ${plain(x)}`))
      .filter(Boolean)
      .join('; ');
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toPrecision(6)));
  return String(v);
}

/** `path` and its hashes, each hash in a <code> of its own. */
function hashed(pathText: string, hashes: Array<[string, unknown]>): string {
  const hs = hashes.filter(([, h]) => typeof h === 'string' && h).map(([label, h]) => `<span class="hash">${esc(label)} <code>${esc(String(h))}</code></span>`);
  return `<code>${esc(pathText)}</code>${hs.length ? `<br>${hs.join(' ')}` : ''}`;
}

/**
 * The manifest as a legible table: the command line, package and backend in words, every input
 * with its content hashes (rows only for inputs the run had), the options that were set, and the
 * timings; nested values as text, never raw JSON.
 */
function manifestTable(m: Obj): string {
  const rows: Array<[string, string]> = [];
  const add = (k: string, v: unknown) => {
    const t = plain(v);
    if (t !== '') rows.push([esc(k), esc(t)]);
  };
  if (Array.isArray(m.command_line))
    rows.push(['command line', `<code>${esc((m.command_line as string[]).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' '))}</code>`]);
  else add('command', m.command);
  const pkg = isObj(m.package) ? m.package : undefined;
  add('package', pkg ? `${plain(pkg.name)} ${plain(pkg.version)} (Node ${plain(pkg.node)})` : m.version);
  add('created', m.created);
  const inputs = isObj(m.inputs) ? m.inputs : {};
  for (const [role, v] of Object.entries(inputs)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      for (const g of v) if (isObj(g)) rows.push([`input ${esc(role)}`, hashed(String(g.path ?? ''), [['sha256', g.sha256]])]);
      continue;
    }
    if (!isObj(v)) continue;
    const where = String(v.path ?? v.source ?? '');
    if (!where) continue;
    rows.push([
      `input ${esc(role)}`,
      hashed(where, [
        ['data sha256', v.data_sha256],
        ['header sha256', v.header_sha256],
        ['sha256', v.sha256],
      ]) + (Array.isArray(v.files) ? ` <span class="hash">(${esc(plain(v.files))})</span>` : ''),
    ]);
  }
  const be = m.backend;
  if (isObj(be)) add('backend', `${plain(be.name)}${be.workers ? ` × ${plain(be.workers)} (${plain(be.source)})` : ''}${be.plan ? `, ${plain(be.plan)}` : ''}${be.note ? ` — ${plain(be.note)}` : ''}`);
  else add('backend', be);
  for (const key of ['languages', 'k', 'n_params', 'n_in_scope', 'architecture', 'seed', 'global_sir', 'expected_random_sir']) add(key.replace(/_/g, ' '), m[key]);
  if (isObj(m.options)) {
    const set = Object.entries(m.options).filter(([k, v]) => k !== 'defaults' && plain(v) !== '' && v !== false);
    add('options', set.map(([k, v]) => `--${k.replace(/_/g, '-')} ${v === true ? '' : plain(v)}`.trim()).join('  '));
    add('defaults used for', (m.options as Obj).defaults);
  }
  if (isObj(m.calibration)) {
    for (const [set, c] of Object.entries(m.calibration))
      if (isObj(c)) add(`calibration ${set}`, `${plain(c.examples)} examples, ${plain(c.tokens)} tokens, mean loss ${plain(c.mean_loss)}, gradients ${plain(c.gradients)}, ${plain(c.seconds)} s`);
  }
  if (isObj(m.timings)) add('timings (s)', Object.fromEntries(Object.entries(m.timings).map(([k, v]) => [k.replace(/_s$/, ''), typeof v === 'number' ? Number(v.toFixed(2)) : v])));
  add('notes', m.notes);
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** The evaluation conditions of eval/violations.csv: one row each, with the checkpoint's content hash. */
function conditionsTable(run: RunData): string {
  const seen = new Map<string, NonNullable<RunData['violations']>[number]>();
  for (const r of run.violations ?? []) if (!seen.has(r.condition_id)) seen.set(r.condition_id, r);
  const rows = [...seen.values()].map(
    (r) => `<tr><td>${esc(r.condition)}</td><td>${esc(r.model)}</td><td>${esc(r.ft_lang)}</td><td><code>${esc(r.checkpoint_sha256 || 'not recorded')}</code></td></tr>`,
  );
  return `<h3>Evaluation conditions</h3><table class="data" id="conditions"><thead><tr><th>condition</th><th>model</th><th>attack language</th><th>checkpoint data sha256</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
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
  if (run.violations?.length) parts.push(conditionsTable(run));

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
