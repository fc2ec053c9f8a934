/**
 * Logs and metrics an on-call engineer relies on: one JSON line per request
 * with request id, function, cold-start flag and what happened; Align's request
 * id on failures; CloudWatch EMF metric lines of the documented shape. (That
 * none of it carries PII or secrets is checked for every test file by the log guard.)
 */
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { METRICS_NAMESPACE } from "@align-onboarding/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

type Line = Record<string, unknown> & {
  _aws?: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
};
const lines = () => t.logs.map((line) => JSON.parse(line) as Line);
const metricLines = () => lines().filter((line) => line._aws !== undefined);
const total = (metric: string) =>
  metricLines().reduce((sum, line) => sum + (typeof line[metric] === "number" ? (line[metric] as number) : 0), 0);

describe("observability", () => {
  it("emits valid EMF metrics for each business event", async () => {
    const body = individual("metrics@example.com");
    const created = await t.api("POST", "/customers", { key: "metrics-1", body });
    await t.api("POST", "/customers", { key: "metrics-1", body });
    const id = created.json.customer_id as string;
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
    const hook = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: id,
      entity_type: "customer",
      created_at: new Date(Date.now() + 1000).toISOString(),
    });
    const deliver = (signature: string) =>
      fetch(`${t.stack.apiUrl}/webhooks/align`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hmac-signature": signature },
        body: hook,
      });
    await deliver(signPayload(hook, "sandbox-key"));
    await deliver(signPayload(hook, "sandbox-key"));
    await deliver("0".repeat(64));

    expect(total("CustomersCreated")).toBe(1);
    expect(total("IdempotentReplays")).toBe(1);
    expect(total("KycSessionsStarted")).toBe(1);
    expect(total("KycSimulations")).toBe(1);
    expect(total("WebhooksAccepted")).toBe(1);
    expect(total("WebhooksDuplicate")).toBe(1);
    expect(total("WebhooksRejected")).toBe(1);

    for (const line of metricLines()) {
      const [directive] = line._aws?.CloudWatchMetrics ?? [];
      expect(typeof line._aws?.Timestamp).toBe("number");
      expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
      for (const set of directive?.Dimensions ?? []) for (const key of set) expect(typeof line[key]).toBe("string");
      for (const metric of directive?.Metrics ?? []) {
        expect(metric.Unit).toBe("Count");
        expect(typeof line[metric.Name]).toBe("number");
      }
    }
  });

  it("counts Align errors by status, and logs Align's request id with the failure", async () => {
    t.stack.sandbox?.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    const failed = await t.api("POST", "/customers", { body: individual("align-down@example.com") });
    expect(failed.status).toBe(502);
    const byStatus = metricLines().filter((line) => line.AlignErrors === 1);
    expect(byStatus.map((line) => [line.function, line.align_status])).toContainEqual(["create-customer", "500"]);
    const failure = lines().find(
      (line) => line.message === "request failed" && line.request_id === failed.json.request_id,
    );
    expect(failure).toMatchObject({
      level: "error",
      function: "create-customer",
      error: "AlignServerError",
      error_status: 500,
    });
    expect(String(failure?.align_request_id)).toMatch(/^req_/);
  });

  it("writes one request line per request with its id, function, cold-start flag and outcome", async () => {
    const created = await t.api("POST", "/customers", { body: individual("one-line@example.com") });
    const mine = lines().filter((line) => line.message === "request" && line.customer_id === created.json.customer_id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      level: "info",
      function: "create-customer",
      route: "POST /customers",
      status: 201,
      event: "customer_created",
      cold_start: false,
    });
    expect(String(mine[0]?.align_request_id)).toMatch(/^req_/); // Align's id for the create call
    expect(typeof mine[0]?.request_id).toBe("string");
    expect(typeof mine[0]?.ms).toBe("number");
    expect(lines().some((line) => line.message === "request" && line.cold_start === true)).toBe(true);
  });
});
