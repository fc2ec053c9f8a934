/**
 * The three places Schemathesis found the document looser than the server
 * (issue 25 #4), each now said exactly, and checked from both sides: what the
 * document's schema accepts, and what the server answers.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

type Json = Record<string, unknown>;
let t: TestStack;
let document: { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };
const ajv = new Ajv2020({ strict: false, validateFormats: false });

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
  document = (await t.api("GET", "/openapi.json", { token: null })).json as typeof document;
});
afterAll(() => t.close());

const parameter = (path: string, name: string) =>
  (((document.paths[path]?.get?.parameters ?? []) as Json[]).find((p) => p.name === name)?.schema ?? {}) as Json;

describe("names", () => {
  const firstName = () =>
    ((document.components.schemas.IndividualCustomerRequest?.properties ?? {}) as Json).first_name as Json;

  it.each([
    ["only spaces", "   ", 400],
    ["only no-break and ideographic spaces", "\u00a0\u3000", 400],
    ["257 characters, 255 of them after trimming", ` ${"a".repeat(255)} `, 400],
    ["255 characters with padding", ` ${"b".repeat(253)} `, 201],
    ["one letter in spaces", "  c  ", 201],
  ])("%s: the document and the server agree (%s)", async (_label, name, status) => {
    const valid = ajv.validate(firstName(), name);
    const answer = await t.api("POST", "/customers", {
      body: { ...individual(`name-${status}-${name.length}-${name.trim().length}@example.com`), first_name: name },
    });
    expect([valid, answer.status]).toEqual([status === 201, status]);
    if (status === 201) expect(answer.json.first_name).toBe(name.trim());
  });
});

describe("?audience=", () => {
  it("any value other than app gives the whole document, and the document says so", async () => {
    const schema = parameter("/openapi.json", "audience");
    for (const value of ["app", "align", "", "APP"])
      expect([value, ajv.validate(schema, value)]).toEqual([value, true]);
    const other = await t.api("GET", "/openapi.json?audience=align", { token: null });
    const app = await t.api("GET", "/openapi.json?audience=app", { token: null });
    expect(other.status).toBe(200);
    expect(Object.keys(other.json.paths as Json)).toEqual(Object.keys(document.paths));
    expect(Object.keys(app.json.paths as Json)).not.toContain("/webhooks/align");
  });
});

describe("the cursor", () => {
  it("is <version>.<payload>.<mac> as the document's pattern says; a stray character is refused by both", async () => {
    for (let i = 0; i < 3; i++) await t.api("POST", "/customers", { body: individual(`cursor-${i}@example.com`) });
    const page = await t.api("GET", "/customers?limit=1");
    const cursor = page.json.next_cursor as string;
    const schema = parameter("/customers", "cursor");
    expect(cursor).toMatch(/^[A-Za-z0-9_-]{1,16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(ajv.validate(schema, cursor)).toBe(true);
    expect((await t.api("GET", `/customers?limit=1&cursor=${cursor}`)).status).toBe(200);
    // base64url decoding skips a character outside its alphabet: the MAC would still match.
    const stray = `${cursor}!`;
    expect(ajv.validate(schema, stray)).toBe(false);
    const refused = await t.api("GET", `/customers?limit=1&cursor=${encodeURIComponent(stray)}`);
    expect([refused.status, refused.json.code]).toEqual([400, "validation_failed"]);
  });
});
