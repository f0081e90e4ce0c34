const fs = require('fs'), os = require('os'), path = require('path');
const { rng, writeModel, V } = require('./bench/attr_model');
const { GradWorkerPool } = require('./dist/model/parallel');
(async () => {
  const L = Number(process.argv[2] || 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbg-'));
  writeModel(dir, L);
  const r = rng(777);
  const ids = Array.from({ length: 4 }, () => Array.from({ length: 128 }, () => Math.floor(r() * V)));
  const batch = { input_ids: ids, attention_mask: ids.map((row) => row.map(() => 1)), labels: ids };
  for (const blas of process.argv.slice(3)) {
    const pool = await GradWorkerPool.start(dir, 2, 'wasm', { blas });
    const t0 = Date.now();
    const res = await pool.lossAndGrads(batch);
    console.log(blas, pool.matmul, res.loss, (Date.now() - t0) / 1000, 's');
    await pool.close();
  }
  fs.rmSync(dir, { recursive: true });
})();
