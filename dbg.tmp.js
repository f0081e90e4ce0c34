const tf = require('@tensorflow/tfjs');
const { useBackend } = require('./dist/model/backend');
const { linear } = require('./dist/model/linear');
const { crossEntropy, crossEntropyReference } = require('./dist/model/loss');
(async () => {
  for (const blas of ['off', 'on']) {
    await useBackend('wasm', { blas });
    const w = tf.randomNormal([1024, 512]); const x = tf.randomNormal([4, 512]);
    const before = tf.memory().numBytes;
    const info = await tf.profile(() => { const [dx, dw] = tf.grads((xx, ww) => tf.sum(linear(xx, { w: ww })))([x, w]); tf.dispose([dx, dw]); });
    console.log(blas, (info.peakBytes - before) / (1024 * 512 * 4), info.kernels.map(k => k.name + ':' + k.bytesAdded).join(' '));
  }
  const z = tf.mul(tf.randomNormal([6, 50]), 4);
  const targets = Int32Array.from([3, -1, 49, 0, -1, 17]);
  console.log(crossEntropy(z, targets, 5).dataSync(), crossEntropyReference(z, targets, 5).dataSync());
  console.log(tf.oneHot(tf.tensor1d([3, -1], 'int32'), 5, 1, 0, 'float32').dataSync(), tf.oneHot(tf.tensor1d([3, -1], 'int32'), 5, 1, 0, 'float32').dtype);
})();
