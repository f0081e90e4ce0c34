/**
 * prepareBatch's derived arrays against their definitions, written out as plain loops: the causal
 * shift of the labels and the additive attention mask with right padding.
 */
import fc from 'fast-check';
import { MASKED, prepareBatch } from '../../src/model/batch';

describe('prepareBatch', () => {
  it('builds the mask as 0 where the key is a token at or before the query and −1e9 elsewhere, and shifts the labels by one', () => {
    const batches = fc.integer({ min: 1, max: 4 }).chain((B) =>
      fc.integer({ min: 1, max: 9 }).chain((T) =>
        fc.record({
          ids: fc.array(fc.array(fc.integer({ min: 0, max: 49 }), { minLength: T, maxLength: T }), { minLength: B, maxLength: B }),
          lens: fc.array(fc.integer({ min: 0, max: T }), { minLength: B, maxLength: B }),
          drop: fc.array(fc.array(fc.boolean(), { minLength: T, maxLength: T }), { minLength: B, maxLength: B }),
        }),
      ),
    );
    fc.assert(
      fc.property(batches, ({ ids, lens, drop }) => {
        const B = ids.length;
        const T = ids[0].length;
        const am = lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));
        const labels = ids.map((r, i) => r.map((v, t) => (drop[i][t] ? -100 : v)));
        const p = prepareBatch({ input_ids: ids, attention_mask: am, labels }, 50);
        let count = 0;
        for (let i = 0; i < B; i++)
          for (let t = 0; t < T; t++) {
            const want = t + 1 < T && labels[i][t + 1] !== -100 ? labels[i][t + 1] : -1;
            if (want >= 0) count++;
            expect(p.targets[i * T + t]).toBe(want);
            expect(p.ids[i * T + t]).toBe(ids[i][t]);
            for (let k = 0; k < T; k++) expect(p.mask[(i * T + t) * T + k]).toBe(k <= t && am[i][k] === 1 ? 0 : Math.fround(MASKED));
          }
        expect(p.count).toBe(count);
      }),
      { numRuns: 300 },
    );
  });
});
