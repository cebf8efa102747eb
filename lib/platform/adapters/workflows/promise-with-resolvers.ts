// aws-local-stepfunctions 3 uses Promise.withResolvers (Node ≥ 22); Node 20 needs it supplied.
// Imported for its effect by everything that runs the in-process ASL runner.
if (!(Promise as { withResolvers?: unknown }).withResolvers) {
  (Promise as unknown as { withResolvers: () => unknown }).withResolvers = function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
