/**
 * Bad input and access: each gets its documented 4xx, as problem+json from
 * our functions (or API Gateway's own body for routing and token failures),
 * and no record is left behind.
 */
import { MAX_BODY_BYTES } from "@align-onboarding/core";
import { signToken } from "@align-onboarding/local";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let before: number;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());
beforeEach(async () => {
  before = (await t.items()).length;
});

const JSON_HEADERS = { "content-type": "application/json" };

async function expectProblem(
  answer: Awaited<ReturnType<TestStack["api"]>>,
  status: number,
  code: string,
): Promise<void> {
  expect(answer.status).toBe(status);
  expect(answer.headers.get("content-type")).toBe("application/problem+json");
  expect(answer.json).toMatchObject({ type: `urn:align-onboarding:problem:${code}`, status, code });
  expect(typeof answer.json.request_id).toBe("string");
  expect(answer.json.title).toEqual(expect.any(String));
  // Nothing was written for a rejected request.
  expect((await t.items()).length).toBe(before);
}

describe("bodies", () => {
  it("non-JSON -> 400 invalid_json", async () => {
    await expectProblem(
      await t.api("POST", "/customers", { rawBody: "{nope", headers: JSON_HEADERS }),
      400,
      "invalid_json",
    );
  });

  it.each([["[]"], ["42"], ['"text"'], ["null"]])(
    "JSON that is not an object (%s) -> 400 invalid_body",
    async (raw) => {
      await expectProblem(
        await t.api("POST", "/customers", { rawBody: raw, headers: JSON_HEADERS }),
        400,
        "invalid_body",
      );
    },
  );

  it("an empty body where one is required -> 400 invalid_body", async () => {
    await expectProblem(await t.api("POST", "/customers", { rawBody: "", headers: JSON_HEADERS }), 400, "invalid_body");
  });

  it("wrong content type -> 415", async () => {
    const answer = await t.api("POST", "/customers", {
      rawBody: JSON.stringify(individual("ct@example.com")),
      headers: { "content-type": "text/plain" },
    });
    await expectProblem(answer, 415, "unsupported_media_type");
  });

  it("accepts application/json with a charset", async () => {
    const answer = await t.api("POST", "/customers", {
      rawBody: JSON.stringify(individual("charset@example.com")),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(answer.status).toBe(201);
  });

  it("a body over 64 KiB -> 413", async () => {
    const big = JSON.stringify({ ...individual("big@example.com"), pad: "x".repeat(MAX_BODY_BYTES) });
    await expectProblem(
      await t.api("POST", "/customers", { rawBody: big, headers: JSON_HEADERS }),
      413,
      "payload_too_large",
    );
  });

  it("unknown fields are rejected with their path, together with every other problem", async () => {
    const answer = await t.api("POST", "/customers", {
      body: { email: "nope", type: "individual", first_name: "A", favourite_colour: "blue" },
    });
    await expectProblem(answer, 400, "validation_failed");
    expect(answer.json.errors).toEqual([
      { path: ["email"], message: "Invalid email format" },
      { path: ["last_name"], message: "last_name is required for individual customers" },
      { path: ["favourite_colour"], message: "Unknown field" },
    ]);
  });

  it("the other type's fields are refused with their paths (a union by type, as the document says)", async () => {
    const individualWithCompany = await t.api("POST", "/customers", {
      body: { ...individual("union-a@example.com"), company_name: "Acme" },
    });
    await expectProblem(individualWithCompany, 400, "validation_failed");
    expect(individualWithCompany.json.errors).toEqual([
      { path: ["company_name"], message: "company_name is not allowed for individual customers" },
    ]);
    const corporateWithNames = await t.api("POST", "/customers", {
      body: { email: "union-b@example.com", type: "corporate", company_name: "Acme", first_name: "A", last_name: "B" },
    });
    await expectProblem(corporateWithNames, 400, "validation_failed");
    expect(corporateWithNames.json.errors).toEqual([
      { path: ["first_name"], message: "first_name is not allowed for corporate customers" },
      { path: ["last_name"], message: "last_name is not allowed for corporate customers" },
    ]);
  });

  it("an email the document's format refuses is refused (a 65-character local part), 64 passes", async () => {
    const tooLong = await t.api("POST", "/customers", { body: individual(`${"a".repeat(65)}@example.com`) });
    await expectProblem(tooLong, 400, "validation_failed");
    expect(tooLong.json.errors).toEqual([{ path: ["email"], message: "Invalid email format" }]);
    for (const email of ["a..b@example.com", ".a@example.com", "a@-example.com", "a@example-.com", "a@example.c0m"]) {
      const answer = await t.api("POST", "/customers", { body: individual(email) });
      await expectProblem(answer, 400, "validation_failed");
    }
    expect((await t.api("POST", "/customers", { body: individual(`${"a".repeat(64)}@example.com`) })).status).toBe(201);
  });

  it("simulate refuses an unknown action", async () => {
    const created = await t.api("POST", "/customers", { body: individual("sim-bad@example.com") });
    before = (await t.items()).length;
    const answer = await t.api("POST", `/sandbox/customers/${created.json.customer_id}/simulate`, {
      body: { action: "kyc.status.explode" },
    });
    await expectProblem(answer, 400, "validation_failed");
    expect(answer.json.errors).toEqual([{ path: ["action"], message: "Action must be 'kyc.status.approve'" }]);
  });
});

describe("paths and queries", () => {
  it("a customer id that is not a UUID -> 400 with the path", async () => {
    for (const [method, path] of [
      ["GET", "/customers/not-a-uuid"],
      ["POST", "/customers/not-a-uuid/kyc-sessions"],
      ["POST", "/sandbox/customers/not-a-uuid/simulate"],
    ] as const) {
      const answer = await t.api(method, path, { body: { action: "kyc.status.approve" } });
      await expectProblem(answer, 400, "validation_failed");
      expect(answer.json.errors).toEqual([{ path: ["customer_id"], message: "Must be a UUID" }]);
    }
  });

  it("bad list parameters -> 400", async () => {
    await expectProblem(await t.api("GET", "/customers?limit=0"), 400, "validation_failed");
    await expectProblem(await t.api("GET", "/customers?cursor=garbage"), 400, "validation_failed");
    await expectProblem(await t.api("GET", "/customers?colour=blue"), 400, "validation_failed");
  });

  it("an unknown route -> API Gateway's 404", async () => {
    const answer = await t.api("GET", "/nowhere");
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({ message: "Not Found" });
  });
});

describe("access", () => {
  const routes = [
    ["POST", "/customers"],
    ["GET", "/customers"],
    ["GET", "/customers/123e4567-e89b-12d3-a456-426614174000"],
    ["POST", "/customers/123e4567-e89b-12d3-a456-426614174000/kyc-sessions"],
    ["POST", "/sandbox/customers/123e4567-e89b-12d3-a456-426614174000/simulate"],
  ] as const;
  const jwt = () => t.stack.jwt;
  const tokens: [string, () => string | null][] = [
    ["no token", () => null],
    ["a garbage token", () => "not.a.jwt"],
    ["a forged signature", () => signToken({ ...jwt(), secret: "someone-else" }, "user-a")],
    ["an expired token", () => signToken(jwt(), "user-a", -60)],
    ["a wrong issuer", () => signToken({ ...jwt(), issuer: "https://evil.example" }, "user-a")],
    ["a wrong audience", () => signToken({ ...jwt(), audience: "another-app" }, "user-a")],
  ];

  it.each(tokens)("every route refuses %s with 401", async (_label, token) => {
    for (const [method, path] of routes) {
      const answer = await t.api(method, path, { token: token(), body: individual("x@example.com") });
      expect(answer.status, `${method} ${path}`).toBe(401);
      expect(answer.headers.get("www-authenticate")).toBe("Bearer");
    }
    expect((await t.items()).length).toBe(before);
  });

  it("a token without sub passes API Gateway but is refused by the function (problem+json 401)", async () => {
    const noSub = signToken(jwt(), "", 3600);
    await expectProblem(await t.api("GET", "/customers", { token: noSub }), 401, "unauthorized");
  });

  it("another caller's customer looks exactly like a missing one (404)", async () => {
    const created = await t.api("POST", "/customers", { body: individual("mine@example.com") });
    const id = created.json.customer_id as string;
    before = (await t.items()).length;
    const intruder = t.stack.token("user-b");
    const missing = "123e4567-e89b-12d3-a456-426614174000";
    for (const [method, suffix] of [
      ["GET", ""],
      ["POST", "/kyc-sessions"],
    ] as const) {
      const theirs = await t.api(method, `/customers/${id}${suffix}`, { token: intruder });
      const nobody = await t.api(method, `/customers/${missing}${suffix}`, { token: intruder });
      await expectProblem(theirs, 404, "not_found");
      expect(Object.keys(theirs.json).sort()).toEqual(Object.keys(nobody.json).sort());
      expect({ ...theirs.json, request_id: "" }).toEqual({ ...nobody.json, request_id: "" });
    }
    const simulate = await t.api("POST", `/sandbox/customers/${id}/simulate`, {
      token: intruder,
      body: { action: "kyc.status.approve" },
    });
    await expectProblem(simulate, 404, "not_found");
    const listed = await t.api("GET", "/customers", { token: intruder });
    expect(listed.json.items).toEqual([]);
    expect(t.stack.sandbox?.state().customers.find((c) => c.customer_id === id)?.kycs).toBeNull();
  });
});
