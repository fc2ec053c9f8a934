/// <reference path="./.sst/platform/config.d.ts" />

/**
 * AWS infrastructure, one stage per `sst deploy --stage <name>`:
 * one DynamoDB table (TTL on) with its stage marker, an HTTP API with a JWT
 * authorizer on the mobile routes and route throttling, one Lambda per route
 * of functions/routes.ts (Node 22, arm64) linked to only what it uses, the
 * Align secrets, and CloudWatch alarms and a dashboard. The stage named
 * `production` talks to Align production, has no sandbox-only routes, and is
 * retained and protected; every other stage talks to the Align sandbox.
 *
 * Deploy-time settings (environment of the `sst deploy` shell), all checked
 * by infra/settings.ts before anything is created (README "Deploy"):
 *   JWT_ISSUER, JWT_AUDIENCE  your identity provider's issuer URL and audience (required)
 *   THROTTLE_RATE_LIMIT       steady requests per second per route (default 25)
 *   THROTTLE_BURST_LIMIT      burst per route (default 50)
 *   KYC_REFRESH_AFTER_SECONDS GET's refresh bound (default 30)
 *   SANDBOX_RESET_SCHEDULE    when sandbox stages reset their data (default nightly, cron(0 3 * * ? *))
 *   ALIGN_AUTH_HEADER, ALIGN_CUSTOMER_TYPE_FIELD  Align wire pins, forwarded to the functions when set
 *   ALARM_*, ALARM_EMAIL      alarm thresholds and where notifications go
 * The region is pinned per stage in infra/settings.ts, never taken from the shell.
 */
/** `create-customer` -> `CreateCustomer`, for component names. */
const pascal = (name: string) => name.replace(/(^|-)(\w)/g, (_, _dash: string, letter: string) => letter.toUpperCase());

/** SST prints an error named VisibleError as its message alone: one line, no stack trace. */
function refuse(error: unknown): never {
  const visible = new Error(error instanceof Error ? error.message : String(error), { cause: error });
  visible.name = "VisibleError";
  throw visible;
}

export default $config({
  async app(input) {
    const { regionFor } = await import("./infra/settings");
    const stage = input?.stage ?? "";
    return {
      name: "align-onboarding",
      home: "aws",
      removal: stage === "production" ? "retain" : "remove",
      protect: stage === "production",
      providers: { aws: { region: regionFor(stage) as aws.Region } },
    };
  },
  async run() {
    const { readDeploySettings } = await import("./infra/settings");
    const { bundleDir, verifyBundles } = await import("./infra/bundles");
    const { alarmSpecs, dashboardBody } = await import("./infra/alarms");
    const { stageMarkerItem } = await import("./infra/stage-marker");
    const { FunctionName, Link, functionSettings, routesFor, schedulesFor } = await import("./functions/routes");
    const root = $cli.paths.root;

    // Everything is checked before the first resource is declared: a refusal creates nothing.
    let settings: ReturnType<typeof readDeploySettings>;
    try {
      settings = readDeploySettings(process.env, $app.stage);
      verifyBundles(Object.values(FunctionName), { root });
    } catch (error) {
      refuse(error);
    }
    const { alignEnvironment } = settings;
    const isProduction = alignEnvironment === "production";

    const alignApiKey = new sst.Secret(Link.AlignApiKey);
    // Empty means "use the API key", which is what Align signs webhooks with.
    const alignWebhookSecret = new sst.Secret(Link.AlignWebhookSecret, "");

    const table = new sst.aws.Dynamo(Link.Table, {
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
    // The table says which Align environment it serves; sandbox-reset reads this, not its own settings.
    new aws.dynamodb.TableItem("StageMarker", {
      tableName: table.name,
      hashKey: "pk",
      rangeKey: "sk",
      item: JSON.stringify(stageMarkerItem(alignEnvironment)),
    });
    const linkables = {
      [Link.Table]: table,
      [Link.AlignApiKey]: alignApiKey,
      [Link.AlignWebhookSecret]: alignWebhookSecret,
    };

    const api = new sst.aws.ApiGatewayV2("Api", {
      transform: {
        stage: (args) => {
          // No caller can flood Align through us: every route is rate limited.
          args.defaultRouteSettings = {
            ...args.defaultRouteSettings,
            throttlingRateLimit: settings.throttleRateLimit,
            throttlingBurstLimit: settings.throttleBurstLimit,
          };
        },
      },
    });
    const authorizer = api.addAuthorizer({
      name: "mobile",
      jwt: { issuer: settings.jwtIssuer, audiences: [settings.jwtAudience] },
    });

    // One Lambda per function (get-customer serves two routes), linked to what it uses and nothing else.
    const functions = new Map<string, sst.aws.Function>();
    const functionFor = (name: keyof typeof functionSettings) => {
      let fn = functions.get(name);
      if (!fn) {
        const fnSettings = functionSettings[name];
        fn = new sst.aws.Function(`${pascal(name)}Function`, {
          // The code is what `npm run build` made (checked above): the bundles the tests run, with
          // environment-only AWS credentials, which SST's own esbuild options cannot express.
          // Absolute: SST resolves a relative path against the shell's folder, and `sst dev` twice.
          bundle: bundleDir(name, `${root}/dist/functions`),
          handler: "index.handler",
          runtime: "nodejs22.x",
          architecture: "arm64",
          memory: `${fnSettings.memoryMb} MB`,
          timeout: `${fnSettings.timeoutSeconds} seconds`,
          link: fnSettings.links.map((link) => linkables[link]),
          environment: {
            ALIGN_ENVIRONMENT: alignEnvironment,
            KYC_REFRESH_AFTER_SECONDS: String(settings.kycRefreshAfterSeconds),
            // Align's wire pins (README "Going live"), forwarded when set; core validates them at cold start.
            ...(process.env.ALIGN_AUTH_HEADER ? { ALIGN_AUTH_HEADER: process.env.ALIGN_AUTH_HEADER } : {}),
            ...(process.env.ALIGN_CUSTOMER_TYPE_FIELD
              ? { ALIGN_CUSTOMER_TYPE_FIELD: process.env.ALIGN_CUSTOMER_TYPE_FIELD }
              : {}),
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
        schedule: settings.sandboxResetSchedule,
        function: functionFor(scheduled.function).arn,
      });
    }

    // The on-call view (README "Alarms and dashboard"): thresholds from the ALARM_* settings.
    const alarmTopic = new sst.aws.SnsTopic("Alarms");
    if (settings.alarmEmail) {
      new aws.sns.TopicSubscription("AlarmEmail", {
        topic: alarmTopic.arn,
        protocol: "email",
        endpoint: settings.alarmEmail,
      });
    }
    const lambdaNames = new Map([...functions].map(([name, fn]) => [name, fn.nodes.function.name] as const));
    for (const { key, setting: _setting, ...args } of alarmSpecs({
      functions: lambdaNames,
      apiId: api.nodes.api.id,
      thresholds: settings.alarms,
    })) {
      new aws.cloudwatch.MetricAlarm(`Alarm${pascal(key)}`, {
        ...args,
        alarmActions: [alarmTopic.arn],
        okActions: [alarmTopic.arn],
      });
    }
    new aws.cloudwatch.Dashboard("Dashboard", {
      dashboardName: `${$app.name}-${$app.stage}`,
      dashboardBody: $resolve([api.nodes.api.id, ...lambdaNames.values()]).apply(([apiId, ...names]) =>
        dashboardBody({ region: settings.region, apiId, lambdaNames: names }),
      ),
    });

    return {
      api: api.url,
      webhookUrl: $interpolate`${api.url}/webhooks/align`,
      table: table.name,
      alignEnvironment,
      alarmTopic: alarmTopic.arn,
    };
  },
});
