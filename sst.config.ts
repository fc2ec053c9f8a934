/// <reference path="./.sst/platform/config.d.ts" />

/**
 * AWS infrastructure, one stage per `sst deploy --stage <name>`:
 * one DynamoDB table (TTL on) with its stage marker, an HTTP API with a JWT
 * authorizer on the mobile routes and route throttling, one Lambda per route
 * of functions/routes.ts (Node 22, arm64) linked to only what it uses, the
 * Align secrets, and CloudWatch alarms and a dashboard. Which Align a stage
 * talks to is the checked setting ALIGN_ENVIRONMENT (infra/stage.ts), never
 * the stage name alone: production has no sandbox-only routes and is retained
 * and protected; every stage but a personal one keeps its table (point-in-time
 * recovery, deletion protection). Each function gets the DynamoDB actions it
 * uses (infra/permissions.ts), not the link's `dynamodb:*`.
 *
 * Deploy-time settings (environment of the `sst deploy` shell), all checked
 * by infra/settings.ts before anything is created (README "Deploy"):
 *   ALIGN_ENVIRONMENT         sandbox or production (required but on personal stages dev, dev-*, pr-<n>)
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
    const { appProfile } = await import("./infra/stage");
    const stage = input?.stage ?? "";
    // Never throws (app() runs for `sst secret set` too): an undecided stage is retained and protected; run() refuses it.
    const { removal, protect } = appProfile(process.env, stage);
    return {
      name: "align-onboarding",
      home: "aws",
      removal,
      protect,
      providers: { aws: { region: regionFor(stage) as aws.Region } },
    };
  },
  async run() {
    const { readDeploySettings } = await import("./infra/settings");
    const { bundleDir, verifyBundles } = await import("./infra/bundles");
    const { alarmSpecs, dashboardBody } = await import("./infra/alarms");
    const { stageMarkerItem } = await import("./infra/stage-marker");
    const { checkDevMode } = await import("./infra/stage");
    const { tableLink, tablePermissions } = await import("./infra/permissions");
    const { resetFunctionArgs, resetScheduleArgs, ResetReliability } = await import("./infra/reset");
    const { FunctionName, Link, cors, functionSettings, routesFor, schedulesFor } = await import("./functions/routes");
    const root = $cli.paths.root;

    // Everything is checked before the first resource is declared: a refusal creates nothing.
    let settings: ReturnType<typeof readDeploySettings>;
    try {
      settings = readDeploySettings(process.env, $app.stage);
      checkDevMode({ dev: $dev, stage: $app.stage, alignEnvironment: settings.alignEnvironment });
      verifyBundles(Object.values(FunctionName), { root });
    } catch (error) {
      refuse(error);
    }
    const { alignEnvironment, longLived } = settings;

    const alignApiKey = new sst.Secret(Link.AlignApiKey);
    // Empty means "use the API key", which is what Align signs webhooks with.
    const alignWebhookSecret = new sst.Secret(Link.AlignWebhookSecret, "");
    // Ours, for list cursors: `v1:<random>` (current first; `v2:...,v1:...` during a rotation). No
    // default, so a stage without it is refused at deploy; never the Align key.
    const signingSecrets = new sst.Secret(Link.SigningSecrets);

    // Linking the table passes its name and grants nothing; tablePermissions grants each function its actions.
    sst.Linkable.wrap(sst.aws.Dynamo, tableLink);
    const table = new sst.aws.Dynamo(Link.Table, {
      fields: { pk: "string", sk: "string", gsi1pk: "string", gsi1sk: "string" },
      primaryIndex: { hashKey: "pk", rangeKey: "sk" },
      globalIndexes: { gsi1: { hashKey: "gsi1pk", rangeKey: "gsi1sk" } },
      ttl: "expires_at",
      transform: {
        table: (args) => {
          // Every stage that is not personal (infra/stage.ts), not only production.
          args.pointInTimeRecovery = { enabled: longLived };
          args.deletionProtectionEnabled = longLived;
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
      [Link.SigningSecrets]: signingSecrets,
    };

    const api = new sst.aws.ApiGatewayV2("Api", {
      // Stated, not SST's default (`*` everywhere, nothing exposed): the local gateway answers the same.
      cors: {
        allowOrigins: [...cors.allowOrigins],
        allowMethods: [...cors.allowMethods],
        allowHeaders: [...cors.allowHeaders],
        exposeHeaders: [...cors.exposeHeaders],
        maxAge: `${cors.maxAgeSeconds} seconds`,
      },
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

    const scheduled = schedulesFor(alignEnvironment);
    // Where a reset that failed after its retries goes, watched by an alarm (infra/reset.ts).
    const resetFailures =
      scheduled.length > 0
        ? new sst.aws.Queue("SandboxResetFailures", {
            transform: { queue: { messageRetentionSeconds: ResetReliability.failureRetentionSeconds } },
          })
        : undefined;

    // One Lambda per function (get-customer serves two routes), linked to what it uses and nothing else.
    const functions = new Map<string, sst.aws.Function>();
    const tableArns = { arn: table.arn, indexArns: $interpolate`${table.arn}/index/*` };
    const functionFor = (name: keyof typeof functionSettings) => {
      let fn = functions.get(name);
      if (!fn) {
        const fnSettings = functionSettings[name];
        const reset =
          name === FunctionName.SandboxReset && resetFailures ? resetFunctionArgs(resetFailures.arn) : undefined;
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
          permissions: [...tablePermissions(name, tableArns), ...(reset?.permissions ?? [])],
          ...(reset
            ? {
                retries: reset.retries,
                transform: {
                  eventInvokeConfig: (args) => {
                    Object.assign(args, reset.eventInvokeConfig);
                  },
                },
              }
            : {}),
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

    // Sandbox stages only: the nightly reset of this stage's data, retried, failures to the queue.
    for (const schedule of resetFailures ? scheduled : []) {
      new sst.aws.CronV2(`${pascal(schedule.function)}Schedule`, {
        ...resetScheduleArgs((resetFailures as sst.aws.Queue).arn, settings.sandboxResetSchedule),
        function: functionFor(schedule.function).arn,
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
      stage: $app.stage,
      resetFailureQueue: resetFailures?.nodes.queue.name,
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
        dashboardBody({ region: settings.region, stage: $app.stage, apiId, lambdaNames: names }),
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
