// Loaded with `node --import ./polyfill.mjs ...` before any other module.
// Node 20 lacks Promise.withResolvers (V8 >= 12.2 / Node 22), which some of
// js-waku's transitive dependencies (mortice, it-queue, abort-error) call.
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    }
  });
}
