/// <reference path="./.sst/platform/config.d.ts" />

// Infrastructure grows with the functions (issue 3); the app definition is fixed now:
// production is retained and protected, other stages are removed with `sst remove`.
export default $config({
  app(input) {
    return {
      name: "align-onboarding",
      home: "aws",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
    };
  },
  async run() {},
});
