/**
 * Hostile input, property-based (fast-check): 5,000 generated requests per
 * route, each carrying at least one defect (token, key, body, content type,
 * path, query, signature). Never a 5xx, never a hang, every error a valid
 * problem+json (or API Gateway's own 401/404 body), and never a record written
 * or an Align call made by a rejected request. Strings come from random
 * generators and from a dictionary of hostile values (built-in property names,
 * numbers and dates at the edges) for every string field, header, query
 * parameter and path parameter.
 */
import { createHmac } from "node:crypto";
import { PROBLEM_TYPE_PREFIX } from "@align-onboarding/core";
import { signToken } from "@align-onboarding/local";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDocumented } from "./support/openapi-validator.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const BATCHES = 100;
const BATCH_SIZE = 50; // 5,000 requests per route, 50 in flight at a time
const SEED = 20261127;

let t: TestStack;
let mine = "";
let theirs = "";
let tableSize = 0;
let alignRequestsBefore = 0;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
  mine = (await t.api("POST", "/customers", { body: individual("fuzz-mine@example.com") })).json.customer_id as string;
  theirs = (
    await t.api("POST", "/customers", { body: individual("fuzz-theirs@example.com"), token: t.stack.token("user-b") })
  ).json.customer_id as string;
  tableSize = (await t.items()).length;
  alignRequestsBefore = t.stack.sandbox?.state().requests.length ?? 0;
}, 30_000);
afterAll(() => t.close());

interface Hostile {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

// ---- building blocks -------------------------------------------------------

/** Values that break naive code: object built-ins, number and date edges, odd JSON. */
const HOSTILE_WORDS = [
  "constructor",
  "__proto__",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__lookupGetter__",
  "then",
  "length",
  "0",
  "-1",
  "NaN",
  "Infinity",
  "-Infinity",
  "1e400",
  "9".repeat(400),
  "null",
  "undefined",
  "true",
  "+275760-09-13T00:00:00.000Z",
  "-271821-04-20T00:00:00.000Z",
  "9999-12-31T23:59:59.999Z",
  "0000-01-01T00:00:00Z",
  "individual ",
  "INDIVIDUAL",
] as const;
const hostileWord = fc.constantFrom(...HOSTILE_WORDS);
/** A string from the dictionary or a random one. */
const anyString = (maxLength: number) => fc.oneof(hostileWord, fc.string({ maxLength }));
/** Header names and values must be valid HTTP: the dictionary's token-safe words. */
const headerWord = fc.constantFrom(...HOSTILE_WORDS.filter((word) => /^[A-Za-z0-9_.+-]{1,60}$/.test(word)));

const goodToken = () => t.stack.token("user-a");
const badToken = fc.oneof(
  fc.constant<string | null>(null),
  fc.string({ maxLength: 40 }),
  fc.constant("not.a.jwt"),
  fc.constantFrom("forged", "expired", "issuer", "audience").map((kind) => {
    const jwt = t.stack.jwt;
    if (kind === "forged") return signToken({ ...jwt, secret: "x" }, "user-a");
    if (kind === "expired") return signToken(jwt, "user-a", -10);
    if (kind === "issuer") return signToken({ ...jwt, issuer: "https://evil.example" }, "user-a");
    return signToken({ ...jwt, audience: "other" }, "user-a");
  }),
);
// Dictionary words are valid keys too (printable ASCII): they must be looked up safely.
const goodKey = fc.oneof(fc.uuid(), headerWord);
const badKey = fc.oneof(
  fc.constant<string | null>(null),
  fc.stringMatching(/^[A-Za-z0-9]{256,300}$/),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `${s}\u00e9`),
  fc.constant('""'),
  fc.constant('"a"b"'),
);
const junkJson = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.constantFrom("{", "[1,2", "null", "[]", '"text"', "42", "{}"),
);
const badId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  hostileWord.map(encodeURIComponent),
  fc.constant("123e4567-e89b-12d3-a456-426614174000"), // nobody's
  fc.constant("__THEIRS__"), // another caller's
);
const resolveId = (id: string) => (id === "__THEIRS__" ? theirs : id);

// Truly valid parts (the API's own rules), so that a request's only defects are the chosen ones.
const name = fc.stringMatching(/^[A-Z][a-z]{0,15}$/);
const validCreate = fc.record({
  email: fc
    .tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,15}[a-z0-9]$/), fc.constantFrom("example.com", "test.org"))
    .filter(([local]) => !local.includes(".."))
    .map(([local, domain]) => `${local}@${domain}`),
  type: fc.constant("individual"),
  first_name: name,
  last_name: name,
});
const brokenCreate = fc.oneof(
  validCreate.chain((v) =>
    fc.string({ maxLength: 30 }).map((email) => ({ ...v, email: `${email.replace(/@/g, "")} ` })),
  ),
  validCreate.map((v) => ({ ...v, type: "robot" })),
  // Every string field, in turn, from the dictionary (or random), run through the whole schema; an unknown
  // field keeps the body a defect even where the word itself is a valid value (a first name "constructor").
  fc
    .tuple(validCreate, fc.constantFrom("email", "type", "first_name", "last_name", "company_name"), anyString(30))
    .map(([v, field, value]) => ({ ...v, [field]: value, x_defect: 1 })),
  // A dictionary word as an unknown field name (a JSON `__proto__` key included).
  fc.tuple(validCreate, hostileWord).map(([v, word]) => `${JSON.stringify(v).slice(0, -1)},${JSON.stringify(word)}:1}`),
  validCreate.map(({ first_name: _f, ...v }) => v),
  validCreate.map((v) => ({ ...v, type: "corporate" })), // no company_name
  validCreate.chain((v) => fc.string({ minLength: 1, maxLength: 12 }).map((k) => ({ ...v, [`x_${k}`]: 1 }))),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 6 }),
);

type Part = "token" | "key" | "body" | "contentType" | "id" | "query";

/** A request with exactly the chosen defects; the other parts are good. */
function hostile(defects: Part[], build: (parts: Record<Part, unknown>) => Hostile) {
  const pick = <T>(part: Part, bad: fc.Arbitrary<T>, good: fc.Arbitrary<T>) => (defects.includes(part) ? bad : good);
  return fc
    .record({
      token: pick<string | null>("token", badToken, fc.constant("GOOD")),
      key: pick<string | null>("key", badKey, goodKey),
      body: pick<string>(
        "body",
        fc.oneof(
          junkJson,
          brokenCreate.map((v) => (typeof v === "string" ? v : JSON.stringify(v))),
        ),
        validCreate.map((v) => JSON.stringify(v)),
      ),
      contentType: pick<string>(
        "contentType",
        fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/xml", "image/png"),
        fc.constantFrom("application/json", "application/json; charset=utf-8"),
      ),
      id: pick<string>("id", badId, fc.constant("__MINE__")),
      // An extra header named and valued from the dictionary, on every request (never itself a defect).
      extra: fc.option(fc.tuple(headerWord, headerWord), { nil: undefined }),
      query: pick<string>(
        "query",
        fc.oneof(
          fc.integer({ min: -5, max: 0 }).map((n) => `limit=${n}`),
          fc.integer({ min: 101, max: 10_000 }).map((n) => `limit=${n}`),
          fc.string({ minLength: 1, maxLength: 30 }).map((s) => `cursor=${encodeURIComponent(s)}`),
          fc.string({ minLength: 1, maxLength: 10 }).map((s) => `x${encodeURIComponent(s)}=1`),
          hostileWord.map((word) => `limit=${encodeURIComponent(word)}`),
          hostileWord.map((word) => `cursor=${encodeURIComponent(word)}`),
          hostileWord.map((word) => `${encodeURIComponent(word)}=1`),
        ),
        fc.constant(""),
      ),
    })
    .map((parts) => build(parts as Record<Part, unknown>));
}

const defectsOf = (parts: Part[]) => fc.subarray(parts, { minLength: 1 }).filter((chosen) => chosen.length > 0);

function headersOf(parts: Record<Part, unknown>, withBody: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  const token = parts.token === "GOOD" ? goodToken() : (parts.token as string | null);
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (parts.key !== null && parts.key !== undefined) headers["idempotency-key"] = parts.key as string;
  if (withBody) headers["content-type"] = parts.contentType as string;
  const extra = (parts as { extra?: [string, string] }).extra;
  if (extra && !Object.hasOwn(headers, extra[0])) {
    // defineProperty: a plain assignment to `__proto__` would not create a header.
    Object.defineProperty(headers, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
  }
  return headers;
}

const idOf = (parts: Record<Part, unknown>) => (parts.id === "__MINE__" ? mine : resolveId(parts.id as string));

// ---- the property ----------------------------------------------------------

async function send(request: Hostile) {
  const init: RequestInit = { method: request.method, headers: request.headers, signal: AbortSignal.timeout(5_000) };
  if (request.body !== undefined) init.body = request.body;
  const response = await fetch(`${t.stack.apiUrl}${request.path}`, init);
  const text = await response.text();
  // Hostile input too gets only answers the document describes.
  assertDocumented({
    method: request.method,
    path: request.path,
    status: response.status,
    headers: response.headers,
    body: text,
  });
  return { status: response.status, type: response.headers.get("content-type"), text };
}

function checkRejected(answer: Awaited<ReturnType<typeof send>>, request: Hostile): void {
  const where = `${request.method} ${request.path} -> ${answer.status} ${answer.text.slice(0, 200)}`;
  expect(answer.status, where).toBeGreaterThanOrEqual(400);
  expect(answer.status, where).toBeLessThan(500);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  if (answer.type === "application/json") {
    // API Gateway's own answers, before any function runs.
    expect([401, 404], where).toContain(answer.status);
    expect(typeof body.message, where).toBe("string");
    return;
  }
  expect(answer.type, where).toBe("application/problem+json");
  expect(body.status, where).toBe(answer.status);
  expect(String(body.type).startsWith(PROBLEM_TYPE_PREFIX), where).toBe(true);
  expect(typeof body.code, where).toBe("string");
  expect(typeof body.title, where).toBe("string");
  expect(typeof body.request_id, where).toBe("string");
  if (body.errors !== undefined) {
    for (const error of body.errors as { path: unknown; message: unknown }[]) {
      expect(Array.isArray(error.path) && error.path.every((p) => typeof p === "string"), where).toBe(true);
      expect(typeof error.message, where).toBe("string");
    }
  }
  expect(answer.text, where).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
}

async function fuzz(arbitrary: fc.Arbitrary<Hostile>) {
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(arbitrary, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }), async (batch) => {
      const answers = await Promise.all(batch.map(send));
      sent += batch.length;
      answers.forEach((answer, index) => {
        checkRejected(answer, batch[index] as Hostile);
      });
    }),
    { numRuns: BATCHES, seed: SEED, endOnFailure: true },
  );
  expect(sent).toBeGreaterThanOrEqual(5_000);
  // Nothing rejected left a trace, here or at Align.
  expect((await t.items()).length).toBe(tableSize);
  const mutating = (t.stack.sandbox?.state().requests ?? [])
    .slice(alignRequestsBefore)
    .filter((entry) => !entry.route.startsWith("GET"));
  expect(mutating).toEqual([]);
}

// ---- the routes ------------------------------------------------------------

describe("hostile input, 5,000 requests per route", () => {
  it("POST /customers", async () => {
    await fuzz(
      defectsOf(["token", "key", "body", "contentType"]).chain((defects) =>
        hostile(defects, (p) => ({
          method: "POST",
          path: "/customers",
          headers: headersOf(p, true),
          body: p.body as string,
        })),
      ),
    );
  }, 240_000);

  it("GET /customers", async () => {
    await fuzz(
      defectsOf(["token", "query"]).chain((defects) =>
        hostile(defects, (p) => ({
          method: "GET",
          path: `/customers${p.query ? `?${p.query}` : ""}`,
          headers: headersOf(p, false),
        })),
      ),
    );
  }, 240_000);

  it("GET /customers/{customer_id}", async () => {
    await fuzz(
      defectsOf(["token", "id"]).chain((defects) =>
        hostile(defects, (p) => ({ method: "GET", path: `/customers/${idOf(p)}`, headers: headersOf(p, false) })),
      ),
    );
  }, 240_000);

  it("POST /customers/{customer_id}/kyc-sessions", async () => {
    await fuzz(
      defectsOf(["token", "key", "id"]).chain((defects) =>
        hostile(defects, (p) => ({
          method: "POST",
          path: `/customers/${idOf(p)}/kyc-sessions`,
          headers: headersOf(p, false),
        })),
      ),
    );
  }, 240_000);

  it("POST /sandbox/customers/{customer_id}/simulate", async () => {
    await fuzz(
      defectsOf(["token", "key", "id", "body", "contentType"]).chain((defects) =>
        hostile(defects, (p) => ({
          method: "POST",
          path: `/sandbox/customers/${idOf(p)}/simulate`,
          headers: headersOf(p, true),
          // A valid simulate body unless the body itself is the defect.
          body: defects.includes("body") ? (p.body as string) : '{"action":"kyc.status.approve"}',
        })),
      ),
    );
  }, 240_000);

  it("POST /webhooks/align", async () => {
    const sign = (body: string, secret: string) => createHmac("sha256", secret).update(body).digest("hex");
    const event = fc.record({
      event_type: fc.oneof(fc.constantFrom("customer.kycs.updated", "card.issued"), hostileWord),
      entity_id: fc.oneof(fc.constantFrom(mine, theirs), hostileWord),
      entity_type: fc.oneof(fc.constant("customer"), hostileWord),
      created_at: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        hostileWord,
      ),
    });
    const badlySigned = fc
      .tuple(
        fc.oneof(
          event.map((e) => JSON.stringify(e)),
          junkJson,
        ),
        fc.oneof(
          fc.constant<string | null>(null),
          fc.string({ maxLength: 70 }),
          fc.stringMatching(/^[0-9a-f]{64}$/),
          fc.constant("wrong-secret"),
        ),
      )
      .map(([body, signature]): Hostile => {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (signature === "wrong-secret") headers["x-hmac-signature"] = sign(body, "not-the-key");
        else if (signature !== null) headers["x-hmac-signature"] = signature;
        return { method: "POST", path: "/webhooks/align", headers, body };
      });
    // Signed correctly, but not an event (Align would never send these; a leaked key could).
    const signedJunk = fc
      .oneof(
        junkJson.filter((body) => {
          try {
            const value = JSON.parse(body) as Record<string, unknown>;
            return !(
              value &&
              typeof value === "object" &&
              typeof value.entity_id === "string" &&
              value.entity_id.length > 0
            );
          } catch {
            return true;
          }
        }),
        event.map((e) => JSON.stringify({ ...e, created_at: "not a date" })),
      )
      .map(
        (body): Hostile => ({
          method: "POST",
          path: "/webhooks/align",
          headers: { "content-type": "application/json", "x-hmac-signature": sign(body, "sandbox-key") },
          body,
        }),
      );
    await fuzz(fc.oneof(badlySigned, signedJunk));
  }, 240_000);
});
