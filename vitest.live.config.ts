import { defineConfig } from "vitest/config";

/** `npm run test:live`: only the live contract, against the real Align sandbox. */
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/live/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 30_000,
    fileParallelism: false,
  },
});
