/**
 * The on-call view sst.config.ts creates, checked without AWS: one errors and
 * one throttles alarm per function, the API's 5xx rate, Align errors by status
 * class, rejected webhooks, thresholds from the settings, and a dashboard of
 * the business metrics, all on the metric names, namespace and stage
 * dimension core emits, so two stages in one account never share an alarm.
 */
import {
  METRICS_NAMESPACE as CORE_NAMESPACE,
  emfLine,
  LOCAL_STAGE,
  Metric,
  metricsStage,
} from "@align-onboarding/core";
import { describe, expect, it } from "vitest";
import { FunctionName } from "../functions/routes.js";
import { AlignStatusClasses, alarmSpecs, BusinessMetrics, dashboardBody, METRICS_NAMESPACE } from "../infra/alarms.js";
import { readDeploySettings } from "../infra/settings.js";

const functions = new Map(Object.values(FunctionName).map((name) => [name, `lambda-${name}`]));
const settings = (env: Record<string, string> = {}) =>
  readDeploySettings({ JWT_ISSUER: "https://idp.example.com/", JWT_AUDIENCE: "app", ...env }, "dev");
const specs = (env: Record<string, string> = {}, stage = "dev") =>
  alarmSpecs({ functions, apiId: "api-1", thresholds: settings(env).alarms, stage });

describe("alarms", () => {
  it("cover each function's errors and throttles on its own Lambda", () => {
    const all = specs();
    for (const [name, lambdaName] of functions) {
      for (const metric of ["Errors", "Throttles"]) {
        const alarm = all.find((spec) => spec.key === `${name}-${metric.toLowerCase()}`);
        expect(alarm, `${name} ${metric}`).toMatchObject({
          namespace: "AWS/Lambda",
          metricName: metric,
          dimensions: { FunctionName: lambdaName },
          statistic: "Sum",
          comparisonOperator: "GreaterThanOrEqualToThreshold",
        });
      }
    }
  });

  it("watch the API's 5xx rate, Align errors by status class and rejected webhooks, on core's metric names", () => {
    const byKey = new Map(specs().map((spec) => [spec.key, spec]));
    const rate = byKey.get("api-5xx-rate")?.metricQueries ?? [];
    expect(rate.map((query) => query.metric?.metricName ?? query.expression)).toEqual([
      "5xx",
      "Count",
      "IF(requests >= 20, 100 * errors / requests, 0)",
    ]);
    expect(rate[0]?.metric?.dimensions).toEqual({ ApiId: "api-1" });
    expect(METRICS_NAMESPACE).toBe(CORE_NAMESPACE);
    for (const [key, statusClass] of Object.entries(AlignStatusClasses)) {
      const query = byKey.get(`align-errors-${key}`)?.metricQueries?.[0]?.expression ?? "";
      expect(query).toContain(
        `SUM(${Metric.AlignErrors}) FROM SCHEMA("${CORE_NAMESPACE}", align_status, "function", "stage") WHERE "stage" = 'dev' AND (`,
      );
      for (const status of statusClass.statuses) expect(query).toContain(`align_status = '${status}'`);
    }
    expect(byKey.get("webhooks-rejected")?.metricQueries?.[0]?.expression).toBe(
      `SELECT SUM(${Metric.WebhooksRejected}) FROM SCHEMA("${CORE_NAMESPACE}", "function", "stage") WHERE "stage" = 'dev'`,
    );
  });

  it("take their thresholds from the ALARM_* settings", () => {
    const defaults = specs();
    expect(defaults.find((spec) => spec.key === "api-5xx-rate")?.threshold).toBe(5);
    const tuned = specs({ ALARM_API_5XX_PERCENT: "2", ALARM_FUNCTION_ERRORS: "3", ALARM_ALIGN_AUTH_ERRORS: "4" });
    expect(tuned.find((spec) => spec.key === "api-5xx-rate")?.threshold).toBe(2);
    expect(tuned.find((spec) => spec.key === "create-customer-errors")?.threshold).toBe(3);
    expect(tuned.find((spec) => spec.key === "align-errors-auth")?.threshold).toBe(4);
    for (const spec of tuned)
      expect(spec.threshold).toBe(
        settings({ ALARM_API_5XX_PERCENT: "2", ALARM_FUNCTION_ERRORS: "3", ALARM_ALIGN_AUTH_ERRORS: "4" }).alarms[
          spec.setting
        ],
      );
  });

  it("have unique names", () => {
    const keys = specs().map((spec) => spec.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(2 * functions.size + 1 + Object.keys(AlignStatusClasses).length + 1);
  });

  it("are per stage: named for it, and reading the stage dimension core writes", () => {
    const dev = specs({}, "dev");
    const staging = specs({}, "staging");
    for (const spec of dev) expect(spec.alarmName).toBe(`align-onboarding-dev-${spec.key}`);
    const names = new Set(dev.map((spec) => spec.alarmName));
    for (const spec of staging) expect(names.has(spec.alarmName)).toBe(false);
    for (const spec of staging) {
      for (const query of spec.metricQueries ?? []) {
        if (query.expression?.startsWith("SELECT")) expect(query.expression).toContain(`WHERE "stage" = 'staging'`);
      }
    }
    // What core writes in that stage's Lambdas (SST sets SST_RESOURCE_App): the same dimension, by the same name.
    const line = JSON.parse(emfLine({ function: "create-customer" }, { CustomersCreated: 1 }, 0, "staging"));
    expect(line.stage).toBe("staging");
    expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([["stage", "function"]]);
    expect(metricsStage({ SST_RESOURCE_App: JSON.stringify({ name: "align-onboarding", stage: "staging" }) })).toBe(
      "staging",
    );
    for (const env of [{}, { SST_RESOURCE_App: "not json" }, { SST_RESOURCE_App: '{"stage":""}' }]) {
      expect(metricsStage(env)).toBe(LOCAL_STAGE);
    }
  });

  it("watch the reset's failure queue where there is one", () => {
    const withQueue = alarmSpecs({
      functions,
      apiId: "api-1",
      thresholds: settings().alarms,
      stage: "dev",
      resetFailureQueue: "reset-failures",
    });
    expect(withQueue.find((spec) => spec.key === "sandbox-reset-failed")).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: "reset-failures" },
      statistic: "Maximum",
      threshold: 1,
    });
    expect(specs().some((spec) => spec.key === "sandbox-reset-failed")).toBe(false);
  });
});

describe("dashboard", () => {
  it("shows every business metric core emits, Align errors by status, the API and every Lambda", () => {
    const body = JSON.parse(
      dashboardBody({ region: "us-east-1", stage: "dev", apiId: "api-1", lambdaNames: [...functions.values()] }),
    );
    const text = JSON.stringify(body);
    const business = Object.values(Metric).filter((metric) => metric !== Metric.AlignErrors);
    expect([...BusinessMetrics].sort()).toEqual(business.sort());
    for (const metric of business) expect(text).toContain(`MetricName=\\"${metric}\\" stage=\\"dev\\"`);
    expect(text).toContain(
      `{${CORE_NAMESPACE},align_status,function,stage} MetricName=\\"AlignErrors\\" stage=\\"dev\\"`,
    );
    for (const name of functions.values()) expect(text).toContain(name);
    expect(
      body.widgets.every((widget: { properties: { region: string } }) => widget.properties.region === "us-east-1"),
    ).toBe(true);
  });
});
