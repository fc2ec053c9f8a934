/**
 * The on-call view sst.config.ts creates, checked without AWS: one errors and
 * one throttles alarm per function, the API's 5xx rate, Align errors by status
 * class, rejected webhooks, thresholds from the settings, and a dashboard of
 * the business metrics, all on the metric names and namespace core emits.
 */
import { METRICS_NAMESPACE as CORE_NAMESPACE, Metric } from "@align-onboarding/core";
import { describe, expect, it } from "vitest";
import { FunctionName } from "../functions/routes.js";
import { AlignStatusClasses, alarmSpecs, BusinessMetrics, dashboardBody, METRICS_NAMESPACE } from "../infra/alarms.js";
import { readDeploySettings } from "../infra/settings.js";

const functions = new Map(Object.values(FunctionName).map((name) => [name, `lambda-${name}`]));
const settings = (env: Record<string, string> = {}) =>
  readDeploySettings({ JWT_ISSUER: "https://idp.example.com/", JWT_AUDIENCE: "app", ...env }, "dev");
const specs = (env: Record<string, string> = {}) =>
  alarmSpecs({ functions, apiId: "api-1", thresholds: settings(env).alarms });

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
      expect(query).toContain(`SUM(${Metric.AlignErrors}) FROM SCHEMA("${CORE_NAMESPACE}", align_status, "function")`);
      for (const status of statusClass.statuses) expect(query).toContain(`align_status = '${status}'`);
    }
    expect(byKey.get("webhooks-rejected")?.metricQueries?.[0]?.expression).toBe(
      `SELECT SUM(${Metric.WebhooksRejected}) FROM SCHEMA("${CORE_NAMESPACE}", "function")`,
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
});

describe("dashboard", () => {
  it("shows every business metric core emits, Align errors by status, the API and every Lambda", () => {
    const body = JSON.parse(
      dashboardBody({ region: "us-east-1", apiId: "api-1", lambdaNames: [...functions.values()] }),
    );
    const text = JSON.stringify(body);
    const business = Object.values(Metric).filter((metric) => metric !== Metric.AlignErrors);
    expect([...BusinessMetrics].sort()).toEqual(business.sort());
    for (const metric of business) expect(text).toContain(`MetricName=\\"${metric}\\"`);
    expect(text).toContain(`{${CORE_NAMESPACE},align_status,function} MetricName=\\"AlignErrors\\"`);
    for (const name of functions.values()) expect(text).toContain(name);
    expect(
      body.widgets.every((widget: { properties: { region: string } }) => widget.properties.region === "us-east-1"),
    ).toBe(true);
  });
});
