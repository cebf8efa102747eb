// A jest environment for suites that run native addons returning typed arrays (onnxruntime-node).
// Jest runs each suite in its own vm context, whose Float32Array is not the main context's; a
// native addon creates its typed arrays in the main context, so a library loaded inside the suite
// (onnxruntime-common's Tensor) refuses them: "A float32 tensor's data must be type of
// Float32Array". Outside jest there is one context and nothing to fix. A suite opts in with the
// docblock naming this file as its jest-environment (with <rootDir>/ before test/support/).
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class NativeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}
module.exports = NativeEnvironment;
