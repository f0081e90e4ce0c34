/** `summary.md` of a locate run: what was run, per-language selection, the SIR matrix, top regions. */
import type { LayerRow } from '../mask/layers';
import type { RegionRow } from '../mask/regions';
import type { OverlapRow } from './combine';
import type { LocateManifest } from './manifest';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const num = (x: number) => x.toLocaleString('en-US');

export function renderSummary(m: LocateManifest, overlap: readonly OverlapRow[], regions: readonly RegionRow[], layers: readonly LayerRow[]): string {
  const o = m.options;
  const lines: string[] = [];
  lines.push(`# sil locate`, '');
  lines.push(`- base: \`${m.inputs.base.path}\` (data sha256 ${m.inputs.base.data_sha256})`);
  lines.push(`- attacked: \`${m.inputs.attacked.path}\` (data sha256 ${m.inputs.attacked.data_sha256})`);
  if (m.inputs.data) lines.push(`- calibration data: \`${m.inputs.data.source}\`, responses: ${o.responses}${o.system ? ', with a system prompt' : ''}`);
  if (m.inputs.grads) lines.push(`- gradients from: ${m.inputs.grads.map((g) => `\`${g.path}\``).join(', ')}`);
  lines.push(
    `- score: **${o.score}**${o.score === 'sil' ? ` (reduce ${o.reduce})` : ''}, scope ${o.scope}, selection ${o.per} top-k with k = ${m.k} of ${num(m.n_in_scope)} in-scope parameters (${num(m.n_params)} in all), seed ${m.seed}`,
  );
  if (m.backend)
    lines.push(`- gradients: backend ${m.backend.name} (${m.backend.note}), matrix products: ${m.backend.matmul_note ?? m.backend.matmul ?? m.backend.name}, ${m.backend.source}, ${m.backend.plan}`);
  lines.push(`- time: ${m.timings.total_s?.toFixed(1)} s`, '');
  lines.push('## Masks', '', '| mask | examples | response tokens | mean loss | gradients | selected | fraction |', '|---|---:|---:|---:|---|---:|---:|');
  for (const [name, r] of Object.entries(m.masks)) {
    const c = m.calibration[name];
    const cell = (v: number | null | undefined, f: (x: number) => string) => (v === null || v === undefined ? '' : f(v));
    lines.push(
      `| ${name} | ${cell(c?.examples, num)} | ${cell(c?.tokens, num)} | ${cell(c?.mean_loss, (x) => x.toFixed(4))} | ${c?.gradients ?? ''} | ${num(r.selected)} | ${pct(r.selected / m.n_in_scope)} |`,
    );
  }
  lines.push('');
  if (m.global_sir !== null) lines.push(`Global SIR over the languages (|⋂| / k): **${m.global_sir.toFixed(4)}**; a random mask is expected at k/N = ${m.expected_random_sir}.`, '');
  const names = [...new Set(overlap.map((r) => r.a))];
  const sir = new Map(overlap.map((r) => [`${r.a}\u0000${r.b}`, r.sir]));
  lines.push('## SIR (row a, column b: |a ∩ b| / |a|)', '', `| | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const a of names) lines.push(`| ${a} | ${names.map((b) => (sir.get(`${a}\u0000${b}`) ?? 0).toFixed(3)).join(' | ')} |`);
  lines.push('');
  for (const lang of m.languages) {
    const top = layers
      .filter((r) => r.lang === lang)
      .sort((a, b) => b.score_share - a.score_share)
      .slice(0, 5);
    const reg = regions.filter((r) => r.lang === lang).slice(0, 5);
    lines.push(`## ${lang}`, '');
    lines.push(`Largest score shares: ${top.map((r) => `${r.layer === null ? '' : `layer ${r.layer} `}${r.kind} ${pct(r.score_share)}`).join(', ')}.`, '');
    if (reg.length) {
      lines.push('| rank | tensor | unit | index | score mass | selected |', '|---:|---|---|---:|---:|---:|');
      for (const r of reg) lines.push(`| ${r.rank} | \`${r.tensor}\` | ${r.unit} | ${r.index} | ${r.score_mass.toPrecision(4)} | ${pct(r.selected_share)} |`);
      lines.push('');
    }
  }
  for (const n of m.notes) lines.push(`Note: ${n}`);
  return lines.join('\n').trimEnd() + '\n';
}
