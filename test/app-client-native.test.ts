/**
 * What an app on React Native or Expo needs of packages/client, and what
 * Stripe's and openai-node's SDKs give: no Idempotency-Key without a secure
 * random source (a clear error, never Math.random), the request id of a
 * success, auto-pagination, the existing customer's id on
 * `email_already_exists`, `startKyc` with one options object, and a KYC wait
 * that times out without looking like a network failure.
 */
import {
  AlignOnboarding,
  ApiConnectionError,
  ApiError,
  isRetryable,
  type KycStatus,
  KycWaitTimeoutError,
  NoRandomSourceError,
  newIdempotencyKey,
} from "@align-onboarding/client";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());
afterEach(() => vi.unstubAllGlobals());

const person = (email: string) => ({ email, type: "individual" as const, first_name: "Ada", last_name: "Lovelace" });
const client = (sub: string) => new AlignOnboarding({ baseUrl: t.stack.apiUrl, token: t.stack.token(sub) });

describe("no secure random source", () => {
  it("newIdempotencyKey throws NoRandomSourceError naming the fixes, and a create sends nothing", async () => {
    vi.stubGlobal("crypto", undefined);
    expect(() => newIdempotencyKey()).toThrow(NoRandomSourceError);
    expect(() => newIdempotencyKey()).toThrow(/react-native-get-random-values.*expo-crypto.*idempotencyKey/s);
    const fetchSpy = vi.fn<typeof fetch>();
    const api = new AlignOnboarding({ baseUrl: t.stack.apiUrl, token: "unused", fetch: fetchSpy });
    await expect(api.customers.create(person("no-random@example.com"))).rejects.toBeInstanceOf(NoRandomSourceError);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("getRandomValues alone (react-native-get-random-values) makes a UUID v4; a key given needs no randomness", async () => {
    const { crypto } = globalThis;
    const getRandomValues = (bytes: Uint8Array) => crypto.getRandomValues(bytes);
    vi.stubGlobal("crypto", { getRandomValues });
    expect(newIdempotencyKey()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The stack runs in this process and needs crypto itself: this call answers from a stand-in fetch.
    vi.stubGlobal("crypto", undefined);
    const keys: (string | null)[] = [];
    const api = new AlignOnboarding({
      baseUrl: "http://127.0.0.1:9",
      token: "t",
      fetch: async (_url, init) => {
        keys.push(new Headers(init.headers).get("idempotency-key"));
        return new Response(JSON.stringify({ customer_id: "c" }), { status: 201 });
      },
    });
    await api.customers.create(person("given-key@example.com"), { idempotencyKey: "given-key-1" });
    expect(keys).toEqual(["given-key-1"]);
  });
});

describe("against the local stack", () => {
  it("gives the request id of a success with withResponse()", async () => {
    const api = client("request-id-user");
    const { data, requestId, response } = await api.customers.create(person("request-id@example.com")).withResponse();
    expect(data.email).toBe("request-id@example.com");
    expect(response.status).toBe(201);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestId).toBe(response.headers.get("x-request-id"));
    const read = await api.customers.get(data.customer_id).withResponse();
    expect(read.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(read.requestId).not.toBe(requestId);
    // The plain promise still gives the body.
    expect((await api.customers.get(data.customer_id)).customer_id).toBe(data.customer_id);
  });

  it("iterates every customer over pages with for await, 250 of them, each once", async () => {
    const api = client("pages-user");
    const emails = Array.from({ length: 250 }, (_, i) => `page-${String(i).padStart(3, "0")}@example.com`);
    for (let i = 0; i < emails.length; i += 25) {
      await Promise.all(emails.slice(i, i + 25).map((email) => api.customers.create(person(email))));
    }
    const paths: string[] = [];
    const counting = new AlignOnboarding({
      baseUrl: t.stack.apiUrl,
      token: t.stack.token("pages-user"),
      fetch: (url, init) => {
        paths.push(url.slice(t.stack.apiUrl.length));
        return fetch(url, init);
      },
    });
    const seen: string[] = [];
    for await (const customer of counting.customers.list()) seen.push(customer.email);
    expect(seen).toHaveLength(250);
    expect(new Set(seen)).toEqual(new Set(emails));
    // 50 a page by default; a full last page still has a cursor, and the page after it is empty.
    expect(paths).toHaveLength(6);
    expect(paths[0]).toBe("/customers");
    expect(paths.slice(1).every((path) => path.startsWith("/customers?cursor="))).toBe(true);
    // `limit` applies to every page; awaiting the call gives the first page alone.
    paths.length = 0;
    let count = 0;
    for await (const _ of counting.customers.list({ limit: 100 })) count += 1;
    expect([count, paths.length]).toEqual([250, 3]);
    const page = await counting.customers.list({ limit: 20 });
    expect(page.items).toHaveLength(20);
    expect(page.next_cursor).toEqual(expect.any(String));
  });

  it("types the existing customer's id on email_already_exists", async () => {
    const api = client("conflict-user");
    const first = await api.customers.create(person("taken@example.com"));
    const error = await api.customers.create(person("taken@example.com")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const conflict = error as ApiError;
    expect([conflict.status, conflict.code, conflict.customerId]).toEqual([
      409,
      "email_already_exists",
      first.customer_id,
    ]);
    // Someone else's customer: no id (no existence leak).
    const other = await client("conflict-other")
      .customers.create(person("taken@example.com"))
      .catch((e: unknown) => e);
    expect([(other as ApiError).code, (other as ApiError).customerId]).toEqual(["email_already_exists", undefined]);
  });

  it("startKyc takes one options object: newSession, idempotencyKey, signal", async () => {
    const sent: { body: unknown; key: string | null }[] = [];
    const api = new AlignOnboarding({
      baseUrl: t.stack.apiUrl,
      token: t.stack.token("kyc-options-user"),
      fetch: (url, init) => {
        sent.push({ body: init.body, key: new Headers(init.headers).get("idempotency-key") });
        return fetch(url, init);
      },
    });
    const customer = await api.customers.create(person("kyc-options@example.com"));
    const first = await api.customers.startKyc(customer.customer_id);
    expect(sent.at(-1)?.body).toBeUndefined();
    const controller = new AbortController();
    const renewed = await api.customers.startKyc(customer.customer_id, {
      newSession: true,
      redirectUri: "https://app.example.com/kyc-done",
      idempotencyKey: "kyc-options-renew",
      signal: controller.signal,
    });
    expect(sent.at(-1)).toEqual({
      body: JSON.stringify({ redirect_uri: "https://app.example.com/kyc-done", new_session: true }),
      key: "kyc-options-renew",
    });
    expect(renewed.kycs.status).toBe(first.kycs.status);
    // The same key again is a replay of that answer.
    const replayed = await api.customers
      .startKyc(customer.customer_id, {
        newSession: true,
        redirectUri: "https://app.example.com/kyc-done",
        idempotencyKey: "kyc-options-renew",
      })
      .withResponse();
    expect(replayed.response.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.data).toEqual(renewed);
  });

  it("a KYC wait that times out is not an ApiConnectionError, is not retryable, and types lastStatus", async () => {
    const api = client("kyc-wait-user");
    const customer = await api.customers.create(person("kyc-wait@example.com"));
    await api.customers.startKyc(customer.customer_id);
    const error = await api.customers
      .waitForKycStatus(customer.customer_id, { until: "approved", timeoutMs: 300, intervalMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KycWaitTimeoutError);
    expect(error).not.toBeInstanceOf(ApiConnectionError);
    const timedOut = error as KycWaitTimeoutError;
    const lastStatus: KycStatus | null = timedOut.lastStatus;
    expect(lastStatus).toBe("pending");
    expect(isRetryable(timedOut)).toBe(false);
  });
});
