import { defineConfig } from "vitest/config";

/**
 * `npm run test:crash`: kill -9 of the whole local stack mid-burst (test/crash).
 * Kept out of `npm test` for now: it fails on known defects being fixed
 * elsewhere (README "Crash test"), and a red test would hide every other result.
 */
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/crash/**/*.test.ts"],
    testTimeout: 150_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
