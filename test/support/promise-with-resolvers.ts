/**
 * nock 15 intercepts fetch through @mswjs/interceptors 0.44, which calls Promise.withResolvers
 * (Node 22+). This project supports Node 20, so tests that use nock import this module first: it
 * provides the function when missing.
 */
if (!('withResolvers' in Promise)) {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: <T>() => {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
