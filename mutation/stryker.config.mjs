// StrykerJS over the core logic, one group at a time (`npm run mutate [group]`).
// Run in place: the workspace packages are symlinks, which a sandbox copy would break.
// No type-checker plugin: TypeScript 7 has no JS API. Each group runs only the tests
// that exercise it (the slow fuzz, simulation and child-process tests are left out).
import { groups } from "./groups.mjs";

const name = process.env.MUTATE_GROUP ?? "idempotency";
const group = groups[name];
if (!group) throw new Error(`unknown group ${name}; one of ${Object.keys(groups).join(", ")}`);

export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  inPlace: true,
  // Only the mutated files are rewritten in place: no "@ts-nocheck" added to every file of the
  // repository (Vitest strips types without checking them, so the instrumented code needs none).
  disableTypeChecks: false,
  mutate: group.mutate,
  vitest: { configFile: "mutation/vitest.mutation.config.ts", related: false },
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: `mutation/reports/${name}.json` },
  tempDirName: `.stryker-tmp-${name}`,
  cleanTempDir: "always",
  thresholds: { high: 90, low: 80, break: null },
};
