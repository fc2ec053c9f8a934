/**
 * The on-call view: CloudWatch alarms and a dashboard, as plain data that
 * `sst.config.ts` turns into `aws.cloudwatch.MetricAlarm`s and one
 * `aws.cloudwatch.Dashboard`. Import-free and generic over the name type, so
 * the deploy passes Pulumi outputs and the tests pass strings.
 *
 * Our own metrics are EMF lines (packages/core/src/metrics.ts): namespace
 * `AlignOnboarding`, dimensions `stage` and `function`, and `AlignErrors`
 * also by `align_status`. Alarms on them use Metrics Insights queries filtered
 * to their own stage (two stages in one account never feed each other's
 * alarms), summed over every `function` value, so they keep working when a
 * metric moves between functions.
 */
import type { AlarmName } from "./settings.js";

export const METRICS_NAMESPACE = "AlignOnboarding";
const FIVE_MINUTES = 300;

interface MetricQuery<T> {
  id: string;
  expression?: string;
  label?: string;
  period?: number;
  returnData?: boolean;
  metric?: { namespace: string; metricName: string; dimensions: Record<string, T>; period: number; stat: string };
}

/** The fields of `aws.cloudwatch.MetricAlarmArgs` used here. */
export interface AlarmSpec<T> {
  /** Component name suffix, unique per stage. */
  key: string;
  /** `align-onboarding-<stage>-<key>`: the stage is in every alarm's name. */
  alarmName: string;
  /** The threshold setting (docs/deploy.md, "Observability"). */
  setting: AlarmName;
  alarmDescription: string;
  comparisonOperator: "GreaterThanOrEqualToThreshold";
  evaluationPeriods: number;
  threshold: number;
  treatMissingData: "notBreaching";
  namespace?: string;
  metricName?: string;
  dimensions?: Record<string, T>;
  statistic?: "Sum" | "Maximum";
  period?: number;
  metricQueries?: MetricQuery<T>[];
}

/** Align statuses by what the on-call engineer does about them. */
export const AlignStatusClasses = {
  /** Our key is wrong or was rotated at Align only: fix the secret. */
  auth: { setting: "ALARM_ALIGN_AUTH_ERRORS", statuses: ["401", "403"] },
  /** Align throttles us: lower THROTTLE_* or ask Align for more. */
  rateLimited: { setting: "ALARM_ALIGN_RATE_LIMITED", statuses: ["429"] },
  /** Align is down or unreachable (0: no answer, a reset or a timeout). */
  unavailable: { setting: "ALARM_ALIGN_UNAVAILABLE", statuses: ["0", "500", "502", "503", "504"] },
} as const satisfies Record<string, { setting: AlarmName; statuses: readonly string[] }>;

/** A Metrics Insights string literal (single quotes doubled). */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
/** Our metric summed over `schema`'s dimensions plus `stage`, for one stage only. */
const insights = (metric: string, schema: string, stage: string, where = "") =>
  `SELECT SUM(${metric}) FROM SCHEMA("${METRICS_NAMESPACE}", ${schema}, "stage") WHERE "stage" = ${literal(stage)}${where ? ` AND (${where})` : ""}`;

const base = {
  comparisonOperator: "GreaterThanOrEqualToThreshold",
  evaluationPeriods: 1,
  treatMissingData: "notBreaching",
} as const;

/**
 * Every alarm of a stage: errors and throttles per function, the API's 5xx
 * rate, Align errors by status class, rejected webhooks, and (sandbox stages)
 * resets in the failure queue.
 */
export function alarmSpecs<T>(input: {
  /** Function name in routes.ts -> the deployed Lambda's name. */
  functions: ReadonlyMap<string, T>;
  apiId: T;
  thresholds: Record<AlarmName, number>;
  /** `$app.stage`: our metrics are read for this stage only. */
  stage: string;
  /** The sandbox reset's failure queue (its name), where there is one. */
  resetFailureQueue?: T | undefined;
}): AlarmSpec<T>[] {
  const { thresholds, stage } = input;
  const specs: Omit<AlarmSpec<T>, "alarmName">[] = [];
  for (const [name, lambdaName] of input.functions) {
    for (const [metricName, setting] of [
      ["Errors", "ALARM_FUNCTION_ERRORS"],
      ["Throttles", "ALARM_FUNCTION_THROTTLES"],
    ] as const) {
      specs.push({
        ...base,
        key: `${name}-${metricName.toLowerCase()}`,
        setting,
        alarmDescription: `${name}: Lambda ${metricName} >= ${thresholds[setting]} in 5 minutes`,
        threshold: thresholds[setting],
        namespace: "AWS/Lambda",
        metricName,
        dimensions: { FunctionName: lambdaName },
        statistic: "Sum",
        period: FIVE_MINUTES,
      });
    }
  }
  const api = (metricName: string, id: string): MetricQuery<T> => ({
    id,
    returnData: false,
    metric: {
      namespace: "AWS/ApiGateway",
      metricName,
      dimensions: { ApiId: input.apiId },
      period: FIVE_MINUTES,
      stat: "Sum",
    },
  });
  specs.push({
    ...base,
    key: "api-5xx-rate",
    setting: "ALARM_API_5XX_PERCENT",
    alarmDescription: `API: ${thresholds.ALARM_API_5XX_PERCENT}% or more of requests answered 5xx in 5 minutes (at least 20 requests)`,
    threshold: thresholds.ALARM_API_5XX_PERCENT,
    metricQueries: [
      api("5xx", "errors"),
      api("Count", "requests"),
      // Below 20 requests one failure would be a large percentage: the function alarms cover that.
      { id: "rate", expression: "IF(requests >= 20, 100 * errors / requests, 0)", label: "5xx %", returnData: true },
    ],
  });
  for (const [key, statusClass] of Object.entries(AlignStatusClasses)) {
    const where = statusClass.statuses.map((status) => `align_status = '${status}'`).join(" OR ");
    specs.push({
      ...base,
      key: `align-errors-${key}`,
      setting: statusClass.setting,
      alarmDescription: `Align answered ${statusClass.statuses.join("/")} ${thresholds[statusClass.setting]} or more times in 5 minutes`,
      threshold: thresholds[statusClass.setting],
      metricQueries: [
        {
          id: "q",
          expression: insights("AlignErrors", 'align_status, "function"', stage, where),
          period: FIVE_MINUTES,
          returnData: true,
        },
      ],
    });
  }
  specs.push({
    ...base,
    key: "webhooks-rejected",
    setting: "ALARM_WEBHOOKS_REJECTED",
    alarmDescription: `${thresholds.ALARM_WEBHOOKS_REJECTED} or more webhook deliveries rejected in 5 minutes (a secret rotated on one side only?)`,
    threshold: thresholds.ALARM_WEBHOOKS_REJECTED,
    metricQueries: [
      {
        id: "q",
        expression: insights("WebhooksRejected", '"function"', stage),
        period: FIVE_MINUTES,
        returnData: true,
      },
    ],
  });
  if (input.resetFailureQueue !== undefined) {
    specs.push({
      ...base,
      key: "sandbox-reset-failed",
      setting: "ALARM_SANDBOX_RESET_FAILED",
      alarmDescription: `sandbox-reset failed after its retries (${thresholds.ALARM_SANDBOX_RESET_FAILED} or more events in its failure queue); read the queue, then run it again`,
      threshold: thresholds.ALARM_SANDBOX_RESET_FAILED,
      // Maximum of what waits: the alarm stays on until someone reads the queue.
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: input.resetFailureQueue },
      statistic: "Maximum",
      period: FIVE_MINUTES,
    });
  }
  return specs.map((spec) => ({ ...spec, alarmName: `align-onboarding-${stage}-${spec.key}` }));
}

/** Business metrics on the dashboard, each summed over every function that emits it. */
export const BusinessMetrics = [
  "CustomersCreated",
  "KycSessionsStarted",
  "KycSimulations",
  "WebhooksAccepted",
  "WebhooksDuplicate",
  "WebhooksRejected",
  "IdempotentReplays",
  "SandboxResetDeletions",
] as const;

/** The dashboard body (CloudWatch's JSON) for a stage, given resolved names; our metrics of that stage only. */
export function dashboardBody(input: {
  region: string;
  stage: string;
  apiId: string;
  lambdaNames: readonly string[];
}): string {
  // SEARCH takes the stage as a quoted term; a stage name is [a-z0-9-], the escape is for safety.
  const onStage = `stage="${input.stage.replaceAll('"', '\\"')}"`;
  const search = (expression: string, id: string, label: string) => ({
    expression: `SEARCH('${expression}', 'Sum', ${FIVE_MINUTES})`,
    id,
    label,
  });
  const widget = (title: string, metrics: unknown[], x: number, y: number) => ({
    type: "metric",
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region: input.region, stat: "Sum", period: FIVE_MINUTES, view: "timeSeries", metrics },
  });
  const business = BusinessMetrics.map((metric, index) => [
    search(`{${METRICS_NAMESPACE},function,stage} MetricName="${metric}" ${onStage}`, `b${index}`, metric),
  ]);
  return JSON.stringify({
    widgets: [
      widget("Onboarding (per function)", business.slice(0, 3), 0, 0),
      widget("Webhooks", business.slice(3, 6), 12, 0),
      widget("Idempotent replays and sandbox resets", business.slice(6), 0, 6),
      widget(
        "Align errors by status",
        [
          [
            search(
              `{${METRICS_NAMESPACE},align_status,function,stage} MetricName="AlignErrors" ${onStage}`,
              "align",
              "AlignErrors",
            ),
          ],
        ],
        12,
        6,
      ),
      widget(
        "API requests, 4xx, 5xx",
        ["Count", "4xx", "5xx"].map((metric) => ["AWS/ApiGateway", metric, "ApiId", input.apiId]),
        0,
        12,
      ),
      widget(
        "Lambda errors and throttles",
        input.lambdaNames.flatMap((name) => [
          ["AWS/Lambda", "Errors", "FunctionName", name],
          ["AWS/Lambda", "Throttles", "FunctionName", name],
        ]),
        12,
        12,
      ),
    ],
  });
}
