/// <reference path="./.sst/platform/config.d.ts" />

/**
 * AWS infrastructure, one stage per `sst deploy --stage <name>`:
 * one DynamoDB table (TTL on), an HTTP API with a JWT authorizer on the mobile
 * routes and route throttling, one Lambda per route of functions/routes.ts
 * (Node 22, arm64), and the Align secrets. The stage named `production` talks
 * to Align production, has no sandbox-only routes, and is retained and
 * protected; every other stage talks to the Align sandbox.
 *
 * Deploy-time settings (environment of the `sst deploy` shell):
 *   JWT_ISSUER, JWT_AUDIENCE  your identity provider's issuer URL and audience (required)
 *   THROTTLE_RATE_LIMIT       steady requests per second per route (default 25)
 *   THROTTLE_BURST_LIMIT      burst per route (default 50)
 *   KYC_REFRESH_AFTER_SECONDS GET's refresh bound (default 30)
 *   SANDBOX_RESET_SCHEDULE    when sandbox stages reset their data (default nightly, cron(0 3 * * ? *))
 */
/** `create-customer` -> `CreateCustomer`, for component names. */
const pascal = (name: string) => name.replace(/(^|-)(\w)/g, (_, _dash: string, letter: string) => letter.toUpperCase());

export default $config({
  app(input) {
    return {
      name: "align-onboarding",
      home: "aws",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      providers: { aws: { region: (process.env.AWS_REGION as aws.Region | undefined) ?? "us-east-1" } },
    };
  },
  async run() {
    const { functionSettings, routesFor, schedulesFor } = await import("./functions/routes");
    const isProduction = $app.stage === "production";
    const alignEnvironment = isProduction ? "production" : "sandbox";

    const issuer = process.env.JWT_ISSUER;
    const audience = process.env.JWT_AUDIENCE;
    if (!issuer || !audience) {
      throw new Error("Set JWT_ISSUER and JWT_AUDIENCE (your identity provider) before `sst deploy`.");
    }
    const rateLimit = Number(process.env.THROTTLE_RATE_LIMIT ?? 25);
    const burstLimit = Number(process.env.THROTTLE_BURST_LIMIT ?? 50);

    const alignApiKey = new sst.Secret("AlignApiKey");
    // Empty means "use the API key", which is what Align signs webhooks with.
    const alignWebhookSecret = new sst.Secret("AlignWebhookSecret", "");

    const table = new sst.aws.Dynamo("Table", {
      fields: { pk: "string", sk: "string", gsi1pk: "string", gsi1sk: "string" },
      primaryIndex: { hashKey: "pk", rangeKey: "sk" },
      globalIndexes: { gsi1: { hashKey: "gsi1pk", rangeKey: "gsi1sk" } },
      ttl: "expires_at",
      transform: {
        table: (args) => {
          args.pointInTimeRecovery = { enabled: isProduction };
          args.deletionProtectionEnabled = isProduction;
        },
      },
    });

    const api = new sst.aws.ApiGatewayV2("Api", {
      transform: {
        stage: (args) => {
          // No caller can flood Align through us: every route is rate limited.
          args.defaultRouteSettings = {
            ...args.defaultRouteSettings,
            throttlingRateLimit: rateLimit,
            throttlingBurstLimit: burstLimit,
          };
        },
      },
    });
    const authorizer = api.addAuthorizer({ name: "mobile", jwt: { issuer, audiences: [audience] } });

    // One Lambda per function (get-customer serves two routes), linked to what it uses.
    const functions = new Map<string, sst.aws.Function>();
    const functionFor = (name: keyof typeof functionSettings) => {
      let fn = functions.get(name);
      if (!fn) {
        const settings = functionSettings[name];
        fn = new sst.aws.Function(`${pascal(name)}Function`, {
          // The code is what `npm run build` made (run by `npm run deploy`): the bundles the tests
          // import, with environment-only AWS credentials, which SST's own esbuild options cannot express.
          bundle: `dist/functions/${name}`,
          handler: "index.handler",
          runtime: "nodejs22.x",
          architecture: "arm64",
          memory: `${settings.memoryMb} MB`,
          timeout: `${settings.timeoutSeconds} seconds`,
          link: [table, alignApiKey, alignWebhookSecret],
          environment: {
            ALIGN_ENVIRONMENT: alignEnvironment,
            KYC_REFRESH_AFTER_SECONDS: process.env.KYC_REFRESH_AFTER_SECONDS ?? "30",
          },
        });
        functions.set(name, fn);
      }
      return fn;
    };
    for (const route of routesFor(alignEnvironment)) {
      api.route(
        `${route.method} ${route.path}`,
        functionFor(route.function).arn,
        route.auth === "jwt" ? { auth: { jwt: { authorizer: authorizer.id } } } : {},
      );
    }

    // Sandbox stages only: the nightly reset of this stage's data.
    for (const scheduled of schedulesFor(alignEnvironment)) {
      new sst.aws.CronV2(`${pascal(scheduled.function)}Schedule`, {
        schedule: (process.env.SANDBOX_RESET_SCHEDULE as typeof scheduled.schedule | undefined) ?? scheduled.schedule,
        function: functionFor(scheduled.function).arn,
      });
    }

    return { api: api.url, webhookUrl: $interpolate`${api.url}/webhooks/align`, table: table.name, alignEnvironment };
  },
});
