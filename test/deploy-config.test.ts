/**
 * What sst.config.ts asks SST to create, per stage, without Pulumi or AWS:
 * its `app()` and `run()` run against recorders of SST's components
 * (test/support-deploy/sst-harness.ts), and each function's role policy is
 * composed as SST composes it. The parts of SST the recorders imitate are
 * checked against SST's own source in .sst/platform (after `npm run
 * typecheck:infra`; skipped before). What AWS then does with these arguments
 * only a real deploy shows (docs/deploy.md, "What was verified here").
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FunctionName } from "../functions/routes.js";
import { TableAccess } from "../infra/permissions.js";
import { ResetReliability } from "../infra/reset.js";
import { applyTransform, type Harness, installSst, type Recorded } from "./support-deploy/sst-harness.js";

// The bundles' freshness has its own test (deploy-bundles); here no build is needed.
vi.mock("../infra/bundles.js", async (original) => ({
  ...(await original<typeof import("../infra/bundles.js")>()),
  verifyBundles: () => undefined,
}));

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PLATFORM = `${ROOT}.sst/platform/src/components`;
const valid = { JWT_ISSUER: "https://idp.example.com/", JWT_AUDIENCE: "mobile-app" };

interface Config {
  app(input: { stage: string }): Promise<{ removal: string; protect: boolean; providers: unknown }>;
  run(): Promise<Record<string, unknown>>;
}
let config: Config;

beforeAll(async () => {
  installSst({ stage: "dev", root: ROOT }); // $config must exist when the module loads
  const path = "../sst.config.ts"; // not a literal: tsc would pull the SST-typed config into this program
  config = ((await import(/* @vite-ignore */ path)) as { default: Config }).default;
});

afterEach(() => {
  vi.unstubAllEnvs();
});

function stubEnv(env: Record<string, string | undefined>) {
  for (const name of ["ALIGN_ENVIRONMENT", "AWS_REGION", "AWS_DEFAULT_REGION", "ALARM_EMAIL", "USER"]) {
    vi.stubEnv(name, undefined);
  }
  for (const [name, value] of Object.entries({ ...valid, ...env })) vi.stubEnv(name, value);
}

/** Runs the config for `stage` with `env` in the deploy shell; what it created. */
async function deploy(stage: string, env: Record<string, string> = {}, dev = false): Promise<Harness> {
  stubEnv(env);
  const harness = installSst({ stage, dev, root: ROOT });
  await config.run();
  return harness;
}

async function refused(stage: string, env: Record<string, string> = {}, dev = false) {
  stubEnv(env);
  const harness = installSst({ stage, dev, root: ROOT });
  const error = await config.run().then(
    () => undefined,
    (thrown: Error) => thrown,
  );
  expect(error, `stage ${stage} was deployed`).toBeInstanceOf(Error);
  expect(error?.name).toBe("VisibleError"); // SST prints it as one line
  expect(harness.created).toEqual([]); // refused before the first resource
  return error?.message ?? "";
}

const fnNamed = (harness: Harness, name: string): Recorded => {
  const pascal = name.replace(/(^|-)(\w)/g, (_, _d: string, c: string) => c.toUpperCase());
  const found = harness.of("sst.aws.Function").find((fn) => fn.name === `${pascal}Function`);
  if (!found) throw new Error(`no function ${name}`);
  return found;
};

describe("which Align a stage talks to: an explicit, checked setting", () => {
  it.each(["prod", "Production", "live", "prod-eu", "staging", "team"])(
    "refuses stage %s without ALIGN_ENVIRONMENT, creating nothing",
    async (stage) => {
      expect(await refused(stage)).toMatch(/^ALIGN_ENVIRONMENT: required for stage/);
    },
  );

  it("deploys a personal stage as sandbox without the setting: the sandbox route, the reset, removable", async () => {
    const harness = await deploy("dev");
    expect(harness.of("route").map((route) => route.name)).toContain("POST /sandbox/customers/{customer_id}/simulate");
    expect(harness.of("sst.aws.CronV2")).toHaveLength(1);
    expect(await config.app({ stage: "dev" })).toMatchObject({ removal: "remove", protect: false });
    const marker = harness.of("aws.dynamodb.TableItem")[0]?.args.item as string;
    expect(JSON.parse(marker).align_environment).toEqual({ S: "sandbox" });
  });

  it("states the API's CORS (the local gateway answers the same): Authorization named, the request id exposed", async () => {
    const harness = await deploy("dev");
    expect(harness.of("sst.aws.ApiGatewayV2")[0]?.args.cors).toEqual({
      allowOrigins: ["*"],
      allowMethods: ["GET", "POST"],
      allowHeaders: ["authorization", "content-type", "idempotency-key"],
      exposeHeaders: ["x-request-id", "retry-after", "idempotent-replayed"],
      maxAge: "86400 seconds",
    });
  });

  it("deploys production only where declared: Align production, no sandbox route or reset, retained and protected", async () => {
    const harness = await deploy("live", { ALIGN_ENVIRONMENT: "production" });
    expect(harness.of("route").map((route) => route.name)).not.toContain(
      "POST /sandbox/customers/{customer_id}/simulate",
    );
    expect(harness.of("sst.aws.CronV2")).toEqual([]);
    expect(harness.of("sst.aws.Queue")).toEqual([]);
    for (const fn of harness.of("sst.aws.Function")) {
      expect((fn.args.environment as Record<string, string>).ALIGN_ENVIRONMENT).toBe("production");
    }
    const marker = harness.of("aws.dynamodb.TableItem")[0]?.args.item as string;
    expect(JSON.parse(marker).align_environment).toEqual({ S: "production" });
    vi.stubEnv("ALIGN_ENVIRONMENT", "production");
    expect(await config.app({ stage: "live" })).toMatchObject({ removal: "retain", protect: true });
  });

  it("lets a production-looking name declare itself sandbox", async () => {
    const harness = await deploy("preprod", { ALIGN_ENVIRONMENT: "sandbox" });
    expect(harness.of("sst.aws.CronV2")).toHaveLength(1);
  });

  it("refuses production on a personal stage, and a value that is neither", async () => {
    expect(await refused("dev", { ALIGN_ENVIRONMENT: "production" })).toMatch(
      /personal stage and cannot be production/,
    );
    expect(await refused("staging", { ALIGN_ENVIRONMENT: "prod" })).toMatch(/must be sandbox or production/);
  });

  it("app() never throws (sst secret set runs it) and treats an undecided stage as production: retained, protected", async () => {
    stubEnv({});
    expect(await config.app({ stage: "prod" })).toMatchObject({ removal: "retain", protect: true });
    expect(await config.app({ stage: "staging" })).toMatchObject({ removal: "retain", protect: true });
  });

  it("refuses `sst dev` on production, and on a stage whose name looks like it", async () => {
    expect(await refused("production", { ALIGN_ENVIRONMENT: "production" }, true)).toMatch(/^sst dev: refused/);
    expect(await refused("prod-eu", { ALIGN_ENVIRONMENT: "sandbox" }, true)).toMatch(/^sst dev: refused/);
    const harness = await deploy("dev-alice", {}, true);
    expect(harness.of("sst.aws.Function").length).toBeGreaterThan(0);
  });
});

describe("data protection: every stage that is not personal", () => {
  const table = (harness: Harness) => {
    const dynamo = harness.of("sst.aws.Dynamo")[0];
    if (!dynamo) throw new Error("no table");
    return applyTransform(dynamo.args, "table");
  };

  it.each([
    ["staging", "sandbox"],
    ["team-sandbox", "sandbox"],
    ["production", "production"],
  ])(
    "%s (%s) has point-in-time recovery and deletion protection, and keeps its table on removal",
    async (stage, environment) => {
      const harness = await deploy(stage, { ALIGN_ENVIRONMENT: environment });
      expect(table(harness)).toEqual({ pointInTimeRecovery: { enabled: true }, deletionProtectionEnabled: true });
      vi.stubEnv("ALIGN_ENVIRONMENT", environment);
      expect((await config.app({ stage })).removal).toBe("retain");
    },
  );

  it.each(["dev", "dev-alice", "pr-42"])("personal stage %s has neither, and is removed whole", async (stage) => {
    const harness = await deploy(stage);
    expect(table(harness)).toEqual({ pointInTimeRecovery: { enabled: false }, deletionProtectionEnabled: false });
    expect(await config.app({ stage })).toMatchObject({ removal: "remove", protect: false });
  });
});

describe("least privilege by action: each function's role, as SST composes it", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await deploy("dev");
  });

  it("the table's link grants nothing (Linkable.wrap), so no role has dynamodb:*", () => {
    expect(harness.of("Linkable.wrap").map((wrap) => wrap.name)).toEqual(["Dynamo"]);
    for (const fn of harness.of("sst.aws.Function")) {
      for (const statement of harness.policy(fn)) {
        for (const action of statement.actions) expect(action, fn.name).not.toMatch(/\*/);
      }
    }
  });

  it.each(
    Object.values(FunctionName).filter((name) => name !== FunctionName.SandboxReset && name !== FunctionName.OpenApi),
  )(
    "%s: GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, Query on the table, Query on its indexes; no Scan, BatchWriteItem or table changes",
    (name) => {
      const policy = harness.policy(fnNamed(harness, name));
      expect(policy).toEqual([
        {
          actions: [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
          ],
          resources: ["arn:Table"],
        },
        { actions: ["dynamodb:Query"], resources: ["arn:Table/index/*"] },
      ]);
    },
  );

  it("sandbox-reset: GetItem (the stage marker), Scan and BatchWriteItem on the table; SendMessage to its failure queue", () => {
    expect(harness.policy(fnNamed(harness, "sandbox-reset"))).toEqual([
      { actions: ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"], resources: ["arn:Table"] },
      { actions: ["sqs:SendMessage"], resources: ["arn:SandboxResetFailures"] },
    ]);
  });

  it("openapi: nothing", () => {
    expect(harness.policy(fnNamed(harness, "openapi"))).toEqual([]);
  });

  it("the functions still get the table's name through the link", () => {
    const createCustomer = fnNamed(harness, "create-customer");
    const links = createCustomer.args.link as { getSSTLink(): { properties: Record<string, unknown> } }[];
    expect(links.map((link) => link.getSSTLink().properties)).toContainEqual({ name: "Table" });
  });

  it("only the reset may Scan or BatchWriteItem", () => {
    const bulk = (Object.entries(TableAccess) as [string, readonly string[]][]).filter(([, actions]) =>
      actions.some((action) => action === "dynamodb:Scan" || action === "dynamodb:BatchWriteItem"),
    );
    expect(bulk.map(([access]) => access)).toEqual(["reset"]);
  });
});

describe.skipIf(!existsSync(PLATFORM))("the recorders do what SST 4's source does", () => {
  it("a Dynamo link grants dynamodb:* on the table and everything under it (what the wrap replaces)", () => {
    const source = readFileSync(`${PLATFORM}/aws/dynamo.ts`, "utf8");
    expect(source).toMatch(
      /getSSTLink\(\) \{\s*return \{\s*properties: \{\s*name: this\.name,\s*\},\s*include: \[\s*permission\(\{\s*actions: \["dynamodb:\*"\],\s*resources: \[this\.arn, interpolate`\$\{this\.arn\}\/\*`\]/,
    );
  });

  it("a Function's role is its permissions plus its links' aws.permission includes", () => {
    const fn = readFileSync(`${PLATFORM}/aws/function.ts`, "utf8");
    expect(fn).toContain('Link.getInclude<Permission>("aws.permission", args.link)');
    expect(fn).toMatch(/statements: \[\s*\.\.\.argsPermissions,\s*\.\.\.linkPermissions,/);
    const linkable = readFileSync(`${PLATFORM}/linkable.ts`, "utf8");
    expect(linkable).toMatch(/cls\.prototype\.getSSTLink = function \(\) \{\s*return cb\(this\);/);
  });

  it("CronV2 passes retries and dlq to the schedule's target; Function's retries and eventInvokeConfig transform make the async config", () => {
    const component = readFileSync(`${PLATFORM}/component.ts`, "utf8");
    expect(component).toContain('if (typeof transform === "function") {');
    expect(component).toContain("return [name, { ...args, ...transform }, opts] as const;");
    const cron = readFileSync(`${PLATFORM}/aws/cron-v2.ts`, "utf8");
    expect(cron).toContain("maximumRetryAttempts: output(args.retries ?? 0)");
    expect(cron).toContain("const deadLetterConfig = args.dlq ? { arn: args.dlq } : undefined;");
    const fn = readFileSync(`${PLATFORM}/aws/function.ts`, "utf8");
    expect(fn).toMatch(/args\.transform\?\.eventInvokeConfig,[\s\S]{0,120}maximumRetryAttempts: args\.retries/);
  });
});

describe("the nightly reset: retried, failures to a queue, an alarm on the queue", () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await deploy("dev");
  });

  it("the schedule retries delivery and dead-letters to the failure queue, and asks a run to fail when incomplete", () => {
    const [cron] = harness.of("sst.aws.CronV2");
    expect(cron?.args).toMatchObject({
      schedule: "cron(0 3 * * ? *)",
      retries: ResetReliability.deliveryRetries,
      dlq: "arn:SandboxResetFailures",
      event: { failIfIncomplete: true },
      function: "arn:SandboxResetFunction",
    });
    expect(ResetReliability.deliveryRetries).toBeGreaterThan(0);
  });

  it("Lambda retries a failed run twice, then sends it to the same queue (its on-failure destination)", () => {
    const reset = fnNamed(harness, "sandbox-reset");
    expect(reset.args.retries).toBe(2);
    expect(applyTransform(reset.args, "eventInvokeConfig", { functionName: "x", maximumRetryAttempts: 2 })).toEqual({
      functionName: "x",
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: ResetReliability.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: "arn:SandboxResetFailures" } },
    });
    // The API functions are invoked synchronously: no async config.
    expect(fnNamed(harness, "create-customer").args.retries).toBeUndefined();
  });

  it("the queue keeps a failure two weeks, and an alarm fires while one waits there", () => {
    const [queue] = harness.of("sst.aws.Queue");
    expect(applyTransform(queue?.args ?? {}, "queue")).toEqual({ messageRetentionSeconds: 14 * 24 * 60 * 60 });
    const alarm = harness.of("aws.cloudwatch.MetricAlarm").find((item) => item.name === "AlarmSandboxResetFailed");
    expect(alarm?.args).toMatchObject({
      alarmName: "align-onboarding-dev-sandbox-reset-failed",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: "queue:SandboxResetFailures" },
      statistic: "Maximum",
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    expect(alarm?.args.alarmActions).toEqual(["arn:Alarms"]);
  });
});

describe("alarms and dashboard per stage", () => {
  it("every alarm is named for its stage, and our metrics' alarms read that stage only", async () => {
    for (const stage of ["dev", "staging"]) {
      const harness = await deploy(stage, stage === "dev" ? {} : { ALIGN_ENVIRONMENT: "sandbox" });
      const alarms = harness.of("aws.cloudwatch.MetricAlarm");
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(alarm.args.alarmName).toMatch(new RegExp(`^align-onboarding-${stage}-`));
        const queries = (alarm.args.metricQueries as { expression?: string }[] | undefined) ?? [];
        for (const { expression } of queries) {
          if (expression?.startsWith("SELECT")) expect(expression).toContain(`WHERE "stage" = '${stage}'`);
        }
      }
      const dashboard = harness.of("aws.cloudwatch.Dashboard")[0];
      expect(dashboard?.args.dashboardName).toBe(`align-onboarding-${stage}`);
      expect(dashboard?.args.dashboardBody).toContain(`stage=\\"${stage}\\"`);
    }
  });
});
