/**
 * Counts typed-array constructions while `body` runs: the typed-array constructors are replaced by
 * counting proxies (module code looks the globals up at call time) and restored afterwards.
 */
export function countTypedArrayConstructions(body: () => void): number {
  const g = globalThis as unknown as Record<string, unknown>;
  const originals = { Float32Array: g.Float32Array, Float64Array: g.Float64Array };
  let count = 0;
  const trap: ProxyHandler<new (...args: unknown[]) => object> = {
    construct(target, args, newTarget) {
      count++;
      return Reflect.construct(target, args, newTarget);
    },
  };
  g.Float32Array = new Proxy(originals.Float32Array as new (...args: unknown[]) => object, trap);
  g.Float64Array = new Proxy(originals.Float64Array as new (...args: unknown[]) => object, trap);
  try {
    body();
  } finally {
    g.Float32Array = originals.Float32Array;
    g.Float64Array = originals.Float64Array;
  }
  return count;
}
