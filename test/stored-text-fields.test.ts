/**
 * Stored text is what Align stores (defect 8, bodies): every text field of a
 * create refuses lone surrogates, control characters (NUL, CR/LF, C1) and
 * bidi controls with 400 `validation_failed` and the field's path (a lone
 * surrogate reaches Align as U+FFFD, so our record would differ from Align's),
 * and `redirect_uri` is https (http only to a loopback host) without control
 * characters. The document's patterns say the same.
 */
import { CreateCustomerBodySchema, StartKycBodySchema } from "@align-onboarding/core";
import { openApiDocument } from "@align-onboarding/local";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

const BAD = [
  ["a lone high surrogate", "Ada\uD800"],
  ["a lone low surrogate", "\uDC00Ada"],
  ["a NUL", "Ad\u0000a"],
  ["a CR/LF inside", "Ad\r\na"],
  ["a trailing LF", "Ada\n"],
  ["a tab", "Ad\ta"],
  ["a C1 control", "Ad\u009Ba"],
  ["a right-to-left override", "Ada\u202Egnp.exe"],
  ["a right-to-left isolate", "Ad\u2067a"],
  ["a paragraph separator", "Ad\u2029a"],
] as const;

describe("create: stored text fields", () => {
  it.each(BAD)("refuses %s in first_name, last_name and company_name with 400 and the field's path", async (_, bad) => {
    const before = (await t.items()).length;
    const bodies = [
      ["first_name", { ...individual("text-a@example.com"), first_name: bad }],
      ["last_name", { ...individual("text-b@example.com"), last_name: bad }],
      ["company_name", { email: "text-c@example.com", type: "corporate", company_name: bad }],
    ] as const;
    for (const [field, body] of bodies) {
      const answer = await t.api("POST", "/customers", { body });
      expect([field, answer.status, answer.json.code]).toEqual([field, 400, "validation_failed"]);
      expect(answer.json.errors).toEqual([{ path: [field], message: expect.stringMatching(/control characters/) }]);
    }
    expect((await t.items()).length).toBe(before);
    expect(t.stack.sandbox?.state().customers.filter((c) => c.email.startsWith("text-"))).toEqual([]);
  });

  it("refuses the same in the email (its pattern is ASCII)", async () => {
    for (const email of ["a\uD800@example.com", "a@example.com\n", "a\u202E@example.com", "a\u0000@example.com"]) {
      const answer = await t.api("POST", "/customers", { body: individual(email) });
      expect([JSON.stringify(email), answer.status, (answer.json.errors as { path: string[] }[])[0]?.path]).toEqual([
        JSON.stringify(email),
        400,
        ["email"],
      ]);
    }
  });

  it("stores well-formed text, characters outside the BMP included, exactly as Align does", async () => {
    const body = { ...individual("text-ok@example.com"), first_name: "Zoë 😀", last_name: "O'Brien-李" };
    const created = await t.api("POST", "/customers", { body });
    expect(created.status).toBe(201);
    const atAlign = t.stack.sandbox?.state().customers.find((c) => c.email === "text-ok@example.com");
    expect([created.json.first_name, created.json.last_name]).toEqual(["Zoë 😀", "O'Brien-李"]);
    expect([atAlign?.first_name, atAlign?.last_name]).toEqual(["Zoë 😀", "O'Brien-李"]);
  });

  it("the document's name pattern accepts exactly the names the server accepts", () => {
    const document = JSON.parse(openApiDocument()) as {
      components: { schemas: Record<string, { properties: Record<string, object> }> };
    };
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const schemas = document.components.schemas;
    const named = [
      ["first_name", schemas.IndividualCustomerRequest?.properties.first_name],
      ["last_name", schemas.IndividualCustomerRequest?.properties.last_name],
      ["company_name", schemas.CorporateCustomerRequest?.properties.company_name],
    ] as const;
    const char = fc.oneof(
      fc.constantFrom("\uD800", "\uDBFF", "\uDC00", "\uDFFF", "\u0000", "\n", "\r", "\u0085", "\u202A", "\u2069"),
      fc.constantFrom("\u2028", "\u200E", "\uFFFD", "😀", "é", "a", " "),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    );
    const value = fc
      .array(char, { minLength: 1, maxLength: 10 })
      .map((chars) => chars.join(""))
      // Edge whitespace is trimmed by the server (and not by a pattern): another rule, not this one.
      .filter((text) => text === text.trim() && text.length > 0);
    for (const [field, schema] of named) {
      expect(schema).toMatchObject({ type: "string", pattern: expect.any(String) });
      const documented = ajv.compile(schema ?? {});
      const base =
        field === "company_name"
          ? { email: "p@example.com", type: "corporate", company_name: "Acme" }
          : individual("p@example.com");
      fc.assert(
        fc.property(value, (text) => {
          const server = CreateCustomerBodySchema.safeParse({ ...base, [field]: text }).success;
          expect([JSON.stringify(text), documented(text)]).toEqual([JSON.stringify(text), server]);
        }),
        { numRuns: 2000, seed: 8 },
      );
    }
  });
});

describe("KYC start: redirect_uri", () => {
  let id = "";
  beforeAll(async () => {
    id = (await t.api("POST", "/customers", { body: individual("redirect@example.com") })).json.customer_id as string;
  });

  it.each([
    ["plain http to a public host", "http://example.com/done"],
    ["http to a host that only starts like localhost", "http://localhost.example.com/done"],
    ["http to a userinfo trick", "http://127.0.0.1@example.com/done"],
    ["a newline (a URL parser would drop it)", "https://example.com/do\nne"],
    ["a tab", "https://example.com/\tdone"],
    ["a lone surrogate", "https://example.com/\uD800"],
    ["a bidi override", "https://example.com/\u202Eenod"],
    ["another scheme", "javascript:alert(1)"],
    ["not a URL", "https://"],
  ])("refuses %s with 400 and the path redirect_uri", async (_, redirect_uri) => {
    const answer = await t.api("POST", `/customers/${id}/kyc-sessions`, { body: { redirect_uri } });
    expect([answer.status, answer.json.code, answer.json.errors]).toEqual([
      400,
      "validation_failed",
      [{ path: ["redirect_uri"], message: expect.stringMatching(/https URL/) }],
    ]);
  });

  it("accepts https anywhere and http to 127.0.0.1, localhost or [::1], in the server and the document alike", async () => {
    const document = JSON.parse(openApiDocument()) as {
      components: { schemas: { StartKycRequest: { properties: { redirect_uri: object } } } };
    };
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const documented = ajv.compile(document.components.schemas.StartKycRequest.properties.redirect_uri);
    const good = [
      "https://app.example.com/kyc/done?x=1",
      "http://127.0.0.1:8080/done",
      "http://localhost/done",
      "http://[::1]:3000/",
    ];
    const bad = ["http://example.com/", "https://example.com/\n", "https://example.com/\uD800", "ftp://example.com/"];
    for (const uri of good)
      expect([uri, documented(uri), StartKycBodySchema.safeParse({ redirect_uri: uri }).success]).toEqual([
        uri,
        true,
        true,
      ]);
    for (const uri of bad)
      expect([uri, documented(uri), StartKycBodySchema.safeParse({ redirect_uri: uri }).success]).toEqual([
        uri,
        false,
        false,
      ]);
    const started = await t.api("POST", `/customers/${id}/kyc-sessions`, { body: { redirect_uri: good[1] } });
    expect(started.status).toBe(201);
  });
});
