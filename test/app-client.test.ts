/**
 * packages/client against the whole local stack, with faults at Align and on
 * the app's own network: a lost answer retried with the operation's key makes
 * one customer, an app restart resuming with the persisted key converges, the
 * retry policy (what, how long, how often) and its errors, tokens, aborts and
 * the KYC wait.
 */

import { AlignRoute } from "@align-onboarding/align-sandbox";
import {
  AlignOnboarding,
  ApiAbortError,
  ApiConnectionError,
  ApiError,
  ApiTimeoutError,
  type FetchLike,
  GatewayError,
  isRetryable,
  KycWaitTimeoutError,
} from "@align-onboarding/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertDocumented } from "./support/openapi-validator.js";
import { closedPort } from "./support/receiver.js";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());
afterEach(() => t.stack.sandbox?.clearFaults());

const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("no emulator");
  return t.stack.sandbox;
};
const alignCustomers = (email: string) =>
  sandbox()
    .state()
    .customers.filter((c) => c.email === email);
const person = (email: string) => ({ email, type: "individual" as const, first_name: "Ada", last_name: "Lovelace" });

interface Sent {
  method: string;
  url: string;
  key: string | undefined;
  status?: number;
}

/**
 * A real fetch that records what the app sent and checks every answer against
 * the document; `loseAnswers` drops the next n answers after the server
 * produced them (as a flaky mobile network does).
 */
function appFetch(options: { loseAnswers?: number } = {}) {
  let lose = options.loseAnswers ?? 0;
  const sent: Sent[] = [];
  const fetchImpl: FetchLike = async (url, init) => {
    const headers = new Headers(init.headers);
    const entry: Sent = { method: init.method ?? "GET", url, key: headers.get("idempotency-key") ?? undefined };
    sent.push(entry);
    const response = await fetch(url, init);
    const body = await response.text();
    entry.status = response.status;
    const path = url.slice(t.stack.apiUrl.length);
    assertDocumented({ method: entry.method, path, status: response.status, headers: response.headers, body });
    if (lose > 0) {
      lose -= 1;
      throw new TypeError("fetch failed (the answer was lost on the way back)");
    }
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: fetchImpl, sent };
}

const client = (fetchImpl: FetchLike, extra: Partial<ConstructorParameters<typeof AlignOnboarding>[0]> = {}) =>
  new AlignOnboarding({
    baseUrl: t.stack.apiUrl,
    token: t.stack.token("app-user"),
    fetch: fetchImpl,
    random: () => 0.5,
    ...extra,
  });

describe("a create whose answer is lost", () => {
  it("is retried with the same key and makes exactly one customer (answer lost after the API committed)", async () => {
    const net = appFetch({ loseAnswers: 2 });
    const customer = await client(net.fetch).customers.create(person("lost-answer@example.com"));
    expect(customer).toMatchObject({ email: "lost-answer@example.com", type: "individual", kycs: null });
    expect(net.sent.map((s) => s.status)).toEqual([201, 201, 201]);
    expect(new Set(net.sent.map((s) => s.key)).size).toBe(1);
    expect(alignCustomers("lost-answer@example.com")).toHaveLength(1);
  });

  it("converges when Align's answer to our API is lost too (dropped after commit at Align)", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    const net = appFetch();
    const customer = await client(net.fetch).customers.create(person("dropped-at-align@example.com"));
    expect(customer.email).toBe("dropped-at-align@example.com");
    expect(net.sent.map((s) => s.status)).toEqual([502, 201]);
    expect(new Set(net.sent.map((s) => s.key)).size).toBe(1);
    expect(alignCustomers("dropped-at-align@example.com")).toHaveLength(1);
  });

  it("an app restart resuming with the persisted key converges on the same customer", async () => {
    const storage = new Map<string, string>();
    const email = "restart@example.com";
    // First run: the key is persisted before sending; the answer is lost and the app is killed (aborted).
    const killed = new AbortController();
    const first = appFetch({ loseAnswers: 1 });
    const firstRun = client(first.fetch, {
      onRetry: () => killed.abort(new Error("app killed")),
    }).customers.create(person(email), {
      signal: killed.signal,
      onIdempotencyKey: (key) => {
        storage.set("create", key);
      },
    });
    const stopped = await firstRun.catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(ApiAbortError);
    expect((stopped as ApiAbortError).idempotencyKey).toBe(storage.get("create"));
    expect(first.sent.map((s) => s.status)).toEqual([201]);

    // Second run, a new process: the same operation, resumed with the persisted key.
    const second = appFetch();
    const key = storage.get("create") ?? "";
    const resumed = await client(second.fetch).customers.create(person(email), { idempotencyKey: key });
    expect(second.sent.map((s) => [s.key, s.status])).toEqual([[key, 201]]);
    expect(resumed.email).toBe(email);
    expect(alignCustomers(email)).toHaveLength(1);
  });

  it("a restart while the first attempt still runs gets 409 in_use, waits Retry-After and converges", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 1_200 } });
    const email = "restart-in-flight@example.com";
    const key = "restart-in-flight-key";
    const first = client(appFetch().fetch).customers.create(person(email), { idempotencyKey: key });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const net = appFetch();
    const delays: number[] = [];
    const second = await client(net.fetch, { onRetry: ({ delayMs }) => delays.push(delayMs) }).customers.create(
      person(email),
      { idempotencyKey: key },
    );
    const firstAnswer = await first;
    expect(second.customer_id).toBe(firstAnswer.customer_id);
    expect(net.sent[0]?.status).toBe(409);
    expect(net.sent.at(-1)?.status).toBe(201);
    expect(delays[0]).toBeGreaterThanOrEqual(1_000); // Retry-After: 1 or more
    expect(alignCustomers(email)).toHaveLength(1);
  });
});

describe("the retry policy", () => {
  it("retries 5xx honouring Retry-After, with the same key", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 503 }, count: 1 });
    const net = appFetch();
    const delays: number[] = [];
    const customer = await client(net.fetch, { onRetry: ({ delayMs }) => delays.push(delayMs) }).customers.create(
      person("retry-503@example.com"),
    );
    expect(customer.email).toBe("retry-503@example.com");
    expect(net.sent.map((s) => s.status)).toEqual([503, 201]);
    expect(delays).toEqual([2_000]); // our 503 says Retry-After: 2
    expect(new Set(net.sent.map((s) => s.key)).size).toBe(1);
  });

  it("never retries a final answer: a validation problem, a conflict, a 404", async () => {
    const net = appFetch();
    const api = client(net.fetch);
    const invalid = await api.customers
      .create({ email: `${"a".repeat(65)}@example.com`, type: "individual", first_name: "A", last_name: "B" })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(ApiError);
    expect(invalid).toMatchObject({
      status: 400,
      code: "validation_failed",
      errors: [{ path: ["email"], message: "Invalid email format" }],
      requestId: expect.any(String),
    });
    expect(invalid).not.toBeInstanceOf(GatewayError);
    await api.customers.create(person("taken@example.com"));
    const taken = await api.customers.create(person("taken@example.com")).catch((error: unknown) => error);
    expect(taken).toMatchObject({ status: 409, code: "email_already_exists" });
    const missing = await api.customers.get("123e4567-e89b-12d3-a456-426614174999").catch((error: unknown) => error);
    expect(missing).toMatchObject({ status: 404, code: "not_found" });
    expect(net.sent.map((s) => s.status)).toEqual([400, 201, 409, 404]);
  });

  it("retries a 409 that may change (it says when to ask again), never a final 409", () => {
    const conflict = (retryAfterMs?: number) =>
      new ApiError({
        message: "conflict",
        status: 409,
        code: "email_already_exists",
        title: "A customer with this email already exists",
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    expect(isRetryable(conflict(5_000))).toBe(true);
    expect(isRetryable(conflict())).toBe(false);
  });

  it("retries network failures, within the budget, and then names the failure", async () => {
    const port = await closedPort();
    const delays: number[] = [];
    const api = new AlignOnboarding({
      baseUrl: `http://127.0.0.1:${port}`,
      token: "t",
      maxRetries: 3,
      random: () => 0.5,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    const error = await api.customers.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiConnectionError);
    expect(delays).toEqual([250, 500, 1_000]); // half of 0.5 s doubling (jitter 0.5)
  });

  it("gives up at once when Retry-After would end past the total budget", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 503 }, count: 5 });
    const net = appFetch();
    const started = Date.now();
    const error = await client(net.fetch, { totalTimeoutMs: 1_000 })
      .customers.create(person("budget@example.com"))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: "upstream_unavailable", retryAfterMs: 2_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(net.sent).toHaveLength(1);
  });
});

describe("tokens, API Gateway's answers and aborts", () => {
  it("asks the token provider again once after a 401, then succeeds", async () => {
    const asked: boolean[] = [];
    const api = client(appFetch().fetch, {
      token: ({ forceRefresh }) => {
        asked.push(forceRefresh);
        return forceRefresh ? t.stack.token("app-user") : "expired";
      },
    });
    expect((await api.customers.list()).items).toEqual(expect.any(Array));
    expect(asked).toEqual([false, true]);
  });

  it("API Gateway's own 401 and 404 are GatewayError (no code, no request id), not retried", async () => {
    const net = appFetch();
    const asked: boolean[] = [];
    const refused = await client(net.fetch, {
      token: ({ forceRefresh }) => {
        asked.push(forceRefresh);
        return "never-valid";
      },
    })
      .customers.list()
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({
      status: 401,
      code: undefined,
      requestId: undefined,
      gatewayMessage: "Unauthorized",
    });
    expect(asked).toEqual([false, true]);
    const noRoute = await client(net.fetch)
      .customers.get("")
      .catch((e: unknown) => e);
    expect(noRoute).toBeInstanceOf(GatewayError);
    expect(noRoute).toMatchObject({ status: 404, gatewayMessage: "Not Found" });
  });

  it("an AbortSignal stops a call during its wait", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 503 }, count: 3 });
    const controller = new AbortController();
    const api = client(appFetch().fetch, { onRetry: () => setTimeout(() => controller.abort(), 50) });
    const started = Date.now();
    const error = await api.customers
      .create(person("abort@example.com"), { signal: controller.signal, idempotencyKey: "abort-key" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiAbortError);
    expect(error).toMatchObject({ status: 0, idempotencyKey: "abort-key" });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("an AbortSignal stops a call in flight", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 2_000 } });
    const started = Date.now();
    const error = await client(appFetch().fetch)
      .customers.create(person("abort-flight@example.com"), { signal: AbortSignal.timeout(200) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiAbortError);
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});

describe("waitForKycStatus's own deadline", () => {
  it("a read still running when the wait's time is up ends as KycWaitTimeoutError, not the read's timeout", async () => {
    const customer = await client(appFetch().fetch).customers.create(person("wait-cut@example.com"));
    // Every read stalls until its signal aborts: only the wait's deadline can end it.
    const stalled: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true });
      });
    const error = await client(stalled)
      .customers.waitForKycStatus(customer.customer_id, { until: "approved", timeoutMs: 150, intervalMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KycWaitTimeoutError);
    expect((error as KycWaitTimeoutError).lastStatus).toBeNull();
    expect((error as Error).cause).toBeInstanceOf(ApiTimeoutError);
  });
});

describe("the onboarding flow", () => {
  it("create, start KYC, simulate and waitForKycStatus until approved", async () => {
    const api = client(appFetch().fetch);
    const customer = await api.customers.create({ email: "flow@example.com", type: "corporate", company_name: "Co" });
    const { kycs } = await api.customers.startKyc(customer.customer_id);
    expect(kycs.status).toBe("pending");
    const timedOut = await api.customers
      .waitForKycStatus(customer.customer_id, { until: "approved", timeoutMs: 300, intervalMs: 50 })
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(KycWaitTimeoutError);
    expect((timedOut as KycWaitTimeoutError).lastStatus).toBe("pending");
    await api.sandbox.simulate(customer.customer_id, { action: "kyc.status.approve" });
    const approved = await api.customers.waitForKycStatus(customer.customer_id, {
      until: ["approved", "rejected"],
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(approved.kycs?.status).toBe("approved");
    const page = await api.customers.list({ limit: 1 });
    expect(page.items).toHaveLength(1);
  });
});
