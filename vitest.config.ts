import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // The live contract talks to the real Align sandbox: only `npm run test:live` runs it.
    // The crash test kills the whole stack: only `npm run test:crash` runs it (see its config).
    exclude: ["test/live/**", "test/crash/**", "**/node_modules/**"],
    // Every log line of every test file is checked for secrets and PII.
    setupFiles: ["test/support/log-guard.ts"],
    // One DynamoDB Local (Java) for the run, for what dynalite lacks; without Java its tests skip and say why.
    globalSetup: ["test/support/dynamodb-local.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Lambda runs Node 22+; the AWS SDK's warning about this machine's Node 20 is noise in tests.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
