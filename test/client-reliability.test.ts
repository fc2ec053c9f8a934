/**
 * The client's retry, timeout and error rules, proven against the emulator's
 * fault injection over real sockets.
 */
import {
  Align,
  AlignAbortError,
  AlignConnectionError,
  AlignError,
  AlignRateLimitError,
  AlignServerError,
  AlignTimeoutError,
} from "@align-onboarding/align";
import { AlignRoute, type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { closedPort } from "./support/receiver.js";

const API_KEY = "reliability-key";
let sandbox: AlignSandbox;

const individual = (email: string) =>
  ({ email, type: "individual", first_name: "Ada", last_name: "Lovelace" }) as const;
const requestsTo = (route: string) => sandbox.state().requests.filter((entry) => entry.route === route);

function client(overrides: Partial<ConstructorParameters<typeof Align>[0]> = {}) {
  return new Align({ apiKey: API_KEY, baseUrl: sandbox.url, ...overrides });
}

beforeAll(async () => {
  sandbox = await startAlignSandbox({ apiKey: API_KEY });
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.reset());

describe("POST is never retried blindly", () => {
  it("a POST answered 500 reaches Align exactly once", async () => {
    sandbox.addFault({ route: AlignRoute.CreateCustomer, count: 5, action: { type: "status", status: 500 } });
    const error = await client({ maxRetries: 3 })
      .customers.create(individual("once@example.com"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignServerError);
    expect((error as AlignError).status).toBe(500);
    expect(requestsTo(AlignRoute.CreateCustomer)).toHaveLength(1);
  });

  it("a POST whose connection drops after commit is not retried, and says it may have run", async () => {
    sandbox.addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    const error = await client({ maxRetries: 3 })
      .customers.create(individual("dropped@example.com"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignConnectionError);
    expect((error as AlignConnectionError).status).toBe(0);
    expect((error as AlignConnectionError).mayHaveReachedServer).toBe(true);
    expect(requestsTo(AlignRoute.CreateCustomer)).toHaveLength(1);
    // The outcome was unknown to the caller, but the customer exists: list-by-email recovers it.
    const { items } = await client().customers.list({ email: "dropped@example.com" });
    expect(items).toHaveLength(1);
  });

  it("a POST answered 429 is retried, honouring Retry-After", async () => {
    sandbox.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 429, retry_after: 1 } });
    const started = performance.now();
    const customer = await client().customers.create(individual("limited@example.com"));
    const elapsed = performance.now() - started;
    expect(customer.email).toBe("limited@example.com");
    expect(requestsTo(AlignRoute.CreateCustomer).map((entry) => entry.status)).toEqual([429, 200]);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(sandbox.state().customers).toHaveLength(1);
  });

  it("a POST to a refused connection is retried (it cannot have reached Align)", async () => {
    const port = await closedPort();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls += 1;
      return fetch(input, init);
    };
    const error = await new Align({
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${port}`,
      maxRetries: 2,
      fetch: counting,
    }).customers
      .create(individual("refused@example.com"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignConnectionError);
    expect((error as AlignConnectionError).mayHaveReachedServer).toBe(false);
    expect(calls).toBe(3);
  });
});

describe("GET retries", () => {
  it("a GET answered 503 twice then 200 succeeds", async () => {
    const created = await client().customers.create(individual("flaky@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, count: 2, action: { type: "status", status: 503 } });
    const customer = await client({ maxRetries: 2 }).customers.get(created.customer_id);
    expect(customer.customer_id).toBe(created.customer_id);
    expect(requestsTo(AlignRoute.GetCustomer).map((entry) => entry.status)).toEqual([503, 503, 200]);
  });

  it("obeys Retry-After on a 503", async () => {
    const created = await client().customers.create(individual("wait@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, action: { type: "status", status: 503, retry_after: 1 } });
    const started = performance.now();
    await client().customers.get(created.customer_id);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(requestsTo(AlignRoute.GetCustomer)).toHaveLength(2);
  });

  it("gives up after maxRetries and reports the last status", async () => {
    const created = await client().customers.create(individual("down@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, count: 10, action: { type: "status", status: 502 } });
    const error = await client({ maxRetries: 1 })
      .customers.get(created.customer_id)
      .catch((e: unknown) => e);
    expect((error as AlignError).status).toBe(502);
    expect(requestsTo(AlignRoute.GetCustomer)).toHaveLength(2);
  });

  it("does not wait out a Retry-After beyond the cap: the error surfaces with retryAfterMs", async () => {
    const created = await client().customers.create(individual("later@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, action: { type: "status", status: 429, retry_after: 3600 } });
    const error = await client()
      .customers.get(created.customer_id)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignRateLimitError);
    expect((error as AlignError).retryAfterMs).toBe(3_600_000);
    expect(requestsTo(AlignRoute.GetCustomer)).toHaveLength(1);
  });

  it("totalTimeoutMs bounds the whole call: no wait or attempt past it", async () => {
    const created = await client().customers.create(individual("budget@example.com"));
    sandbox.addFault({
      route: AlignRoute.GetCustomer,
      count: 5,
      action: { type: "status", status: 503, retry_after: 1 },
    });
    const started = performance.now();
    const error = await client({ maxRetries: 5 })
      .customers.get(created.customer_id, { totalTimeoutMs: 1_500 })
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect((error as AlignError).status).toBe(503);
    expect(requestsTo(AlignRoute.GetCustomer)).toHaveLength(2); // a second 1 s wait would pass the budget
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a GET whose connection drops is retried and succeeds", async () => {
    const created = await client().customers.create(individual("reset@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, action: { type: "drop", when: "before_commit" } });
    const customer = await client().customers.get(created.customer_id);
    expect(customer.customer_id).toBe(created.customer_id);
    expect(requestsTo(AlignRoute.GetCustomer).map((entry) => entry.status)).toEqual(["dropped", 200]);
  });

  it("does not retry a 404", async () => {
    const error = await client()
      .customers.get("123e4567-e89b-12d3-a456-426614174000")
      .catch((e: unknown) => e);
    expect((error as AlignError).status).toBe(404);
    expect(requestsTo(AlignRoute.GetCustomer)).toHaveLength(1);
  });
});

describe("timeouts and cancellation", () => {
  it("a timeout surfaces as AlignTimeoutError within its bound", async () => {
    sandbox.addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 3000 } });
    const started = performance.now();
    const error = await client({ timeoutMs: 250 })
      .customers.create(individual("slow@example.com"))
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(AlignTimeoutError);
    expect(error).toBeInstanceOf(AlignError);
    expect((error as AlignTimeoutError).status).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(240);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a per-call timeout overrides the client's", async () => {
    const created = await client().customers.create(individual("percall@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, action: { type: "delay", ms: 3000 } });
    const started = performance.now();
    const error = await client({ timeoutMs: 30_000 })
      .customers.get(created.customer_id, { timeoutMs: 200, maxRetries: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignTimeoutError);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("the caller's AbortSignal cancels the call", async () => {
    const created = await client().customers.create(individual("abort@example.com"));
    sandbox.addFault({ route: AlignRoute.GetCustomer, action: { type: "delay", ms: 3000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await client()
      .customers.get(created.customer_id, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignAbortError);
  });
});

describe("errors carry Align's request id and code", () => {
  it("401 for a wrong key", async () => {
    const error = await new Align({ apiKey: "wrong", baseUrl: sandbox.url }).customers
      .list({ email: "x@example.com" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AlignAuthenticationError", status: 401, code: "unauthorized" });
    expect((error as AlignError).requestId).toMatch(/^req_/);
  });

  it("a 2xx body that is not the documented shape is an AlignUnexpectedResponseError", async () => {
    sandbox.addFault({ route: AlignRoute.ListCustomers, action: { type: "status", status: 200, body: { nope: 1 } } });
    const error = await client()
      .customers.list({ email: "x@example.com" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AlignUnexpectedResponseError", status: 200, code: "unexpected_response" });
  });
});
