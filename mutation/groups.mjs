// The mutation groups of `npm run mutate`: the files whose guarantees matter most, and the
// tests that pin them (by path; mutation/vitest.mutation.config.ts reads MUTATE_GROUP).
export const groups = {
  idempotency: {
    mutate: [
      "packages/core/src/idempotency/key.ts",
      "packages/core/src/idempotency/fingerprint.ts",
      "packages/core/src/idempotency/run.ts",
      "packages/core/src/idempotency/store.ts",
      "packages/core/src/query-pages.ts",
    ],
    tests: [
      "packages/core/test/idempotency-key.test.ts",
      "test/idempotency-store.test.ts",
      "test/api-idempotency.test.ts",
      "test/mutation-idempotency.test.ts",
    ],
  },
  services: {
    mutate: [
      "packages/core/src/customers/service.ts",
      "packages/core/src/customers/customer-store.ts",
      "packages/core/src/webhooks/service.ts",
    ],
    tests: [
      "test/recovery-regressions.test.ts",
      "test/webhook-receiver.test.ts",
      "test/api-refresh.test.ts",
      "test/mutation-services.test.ts",
      "test/mutation-customer-store.test.ts",
      "test/mutation-webhooks.test.ts",
    ],
  },
  align: {
    mutate: [
      "packages/align/src/retry.ts",
      "packages/align/src/transport.ts",
      "packages/align/src/webhook-signature.ts",
    ],
    tests: ["packages/align/test/*.test.ts", "test/client-reliability.test.ts", "test/seed-examples.test.ts"],
  },
};
