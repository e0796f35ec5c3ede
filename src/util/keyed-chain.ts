/**
 * Per-key serialization: operations on one key run one after another, in the order they were
 * started; operations on different keys run concurrently. A failed operation does not stop the
 * ones after it. The map holds only keys with an operation pending, so it is bounded by the
 * operations in flight.
 */
export class KeyedChain {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Run `fn` after every earlier operation on `id`. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(id) ?? Promise.resolve();
    const result = before.then(fn, fn);
    const settled = result.catch(() => undefined);
    this.tails.set(id, settled);
    void settled.then(() => {
      if (this.tails.get(id) === settled) this.tails.delete(id);
    });
    return result;
  }

  /** True when an operation on `id` is pending. */
  busy(id: string): boolean {
    return this.tails.has(id);
  }
}
