/** The port decorator: traced methods call through, absent optional methods stay absent, adapters keep their #private state. */
import { tracePort } from '../../lib/platform/tracing/traced-port.js';

class Adapter {
  #calls = 0;
  async get(key: string): Promise<string> {
    this.#calls++;
    return `value of ${key}`;
  }
  calls(): number {
    return this.#calls;
  }
}
interface Port {
  get(key: string): Promise<string>;
  calls(): number;
  describeKey?(ref: string): Promise<unknown>;
}

test('a traced method returns what the adapter returns; an untraced one is the adapter own, bound', async () => {
  const port: Port = tracePort(new Adapter(), { name: 'store', methods: ['get', 'describeKey'] });
  expect(await port.get('k')).toBe('value of k');
  expect(port.calls()).toBe(1);
});

test('an optional method the adapter lacks stays absent, even when listed as traced (callers test for it)', () => {
  const port: Port = tracePort(new Adapter(), { name: 'store', methods: ['get', 'describeKey'] });
  expect(port.describeKey).toBeUndefined();
});

test("a traced method's rejection reaches the caller unchanged", async () => {
  const failing = { get: async () => Promise.reject(new Error('boom')) };
  const port = tracePort(failing, { name: 'store', methods: ['get'] });
  await expect(port.get()).rejects.toThrow('boom');
});
