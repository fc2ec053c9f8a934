/**
 * Opt-in older shapes and harsher refusals, over real HTTP: create answering
 * 201 with `kycs` already pending, the key refused as 401, 403 or API
 * Gateway's "Missing Authentication Token", and 400s carrying only a message.
 * The defaults are checked beside each, unchanged.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type AlignSandbox,
  type AlignSandboxOptions,
  AuthRefusal,
  CreateAnswer,
  startAlignSandbox,
  ValidationBody,
} from "../src/index.js";
import { call } from "./wire.js";

const KEY = "dialect-key";
const alice = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" };
const open = new Set<AlignSandbox>();

async function emulator(options: Omit<AlignSandboxOptions, "apiKey"> = {}): Promise<AlignSandbox> {
  const sandbox = await startAlignSandbox({ apiKey: KEY, ...options });
  open.add(sandbox);
  return sandbox;
}

afterEach(async () => {
  await Promise.all([...open].map((sandbox) => sandbox.close()));
  open.clear();
});

describe("createAnswer", () => {
  it("with_kycs: 201 with kycs { status: pending, kyc_flow_link } and a working session behind it", async () => {
    const sandbox = await emulator({ createAnswer: CreateAnswer.WithKycs });
    const published: string[] = [];
    sandbox.onEvent((event) => {
      published.push(event.event.event_type);
    });
    const created = await call(sandbox, "POST", "/v0/customers", alice, { authorization: KEY });
    expect(created.status).toBe(201);
    const link = sandbox.state().kyc_sessions[0]?.kyc_flow_link;
    expect(created.json).toEqual({
      customer_id: expect.any(String),
      email: alice.email,
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
      kycs: { status: "pending", kyc_flow_link: link },
    });
    expect(published).toEqual(["customer.kycs.updated"]);
    expect((await fetch(link ?? "")).status).toBe(200);

    const id = created.json.customer_id as string;
    const read = await call(sandbox, "GET", `/v0/customers/${id}`, undefined, { authorization: KEY });
    expect(read.json.kycs).toMatchObject({ status: "pending", kyc_flow_link: link });
    // The session is the one a KYC start hands back, and simulate needs no start first.
    const started = await call(sandbox, "POST", `/v0/customers/${id}/kycs`, undefined, { authorization: KEY });
    expect(started.json.kycs).toMatchObject({ status: "pending", kyc_flow_link: link });
    const approved = await call(
      sandbox,
      "POST",
      "/v0/customers/simulate",
      { customer_id: id, action: "kyc.status.approve" },
      { authorization: KEY },
    );
    expect(approved.status).toBe(200);
  });

  it("the default is still 200 with kycs null and no session", async () => {
    const sandbox = await emulator();
    expect(sandbox.dialect.createAnswer).toBe("customer");
    const created = await call(sandbox, "POST", "/v0/customers", alice, { authorization: KEY });
    expect(created.status).toBe(200);
    expect(created.json.kycs).toBeNull();
    expect(sandbox.state().kyc_sessions).toEqual([]);
  });
});

describe("authRefusal", () => {
  // The default profile (sdk) reads raw Authorization.
  const wrongKey = { authorization: "not-the-key" };
  const unreadHeader = { "api-key": KEY };

  it.each([
    [AuthRefusal.Unauthorized, 401, '{"message":"Invalid API key","code":"unauthorized"}'],
    [AuthRefusal.Forbidden, 403, '{"message":"Forbidden","code":"forbidden"}'],
  ])("%s answers %i with { message, code } to a wrong key and to an unread header", async (form, status, body) => {
    const sandbox = await emulator({ authRefusal: form });
    for (const headers of [wrongKey, unreadHeader, {}]) {
      const refused = await call(sandbox, "POST", "/v0/customers", alice, headers);
      expect([refused.status, refused.text]).toEqual([status, body]);
      expect(refused.headers.get("x-request-id")).toMatch(/^req_/);
      expect(refused.headers.get("x-amzn-errortype")).toBeNull();
    }
    expect(sandbox.state().customers).toEqual([]);
  });

  it.each([
    [AuthRefusal.GatewayMissingToken403, 403],
    [AuthRefusal.GatewayMissingToken400, 400],
  ])("%s answers %i with API Gateway's Missing Authentication Token", async (form, status) => {
    const sandbox = await emulator({ authRefusal: form });
    for (const headers of [wrongKey, unreadHeader]) {
      const refused = await call(sandbox, "POST", "/v0/customers", alice, headers);
      expect(refused.status).toBe(status);
      expect(refused.text).toBe('{"message":"Missing Authentication Token"}');
      expect(refused.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
      expect(refused.headers.get("x-amzn-requestid")).toMatch(/^req_/);
      expect(refused.headers.get("x-request-id")).toBeNull();
    }
    expect(sandbox.state().customers).toEqual([]);
    expect(sandbox.state().requests.map((entry) => entry.status)).toEqual([status, status]);
  });

  it("refuses a missing header and a wrong key differently when asked", async () => {
    const sandbox = await emulator({
      profile: "sdk",
      authRefusal: { missing: AuthRefusal.GatewayMissingToken403, wrong: AuthRefusal.Unauthorized },
    });
    const unread = await call(sandbox, "GET", "/v0/webhooks", undefined, { "api-key": KEY });
    expect([unread.status, unread.json]).toEqual([403, { message: "Missing Authentication Token" }]);
    const wrong = await call(sandbox, "GET", "/v0/webhooks", undefined, { authorization: `Bearer ${KEY}` });
    expect([wrong.status, wrong.json]).toEqual([401, { message: "Invalid API key", code: "unauthorized" }]);
    expect((await call(sandbox, "GET", "/v0/webhooks", undefined, { authorization: KEY })).status).toBe(200);
  });

  it("the default still answers 401 { message, code } to both", async () => {
    const sandbox = await emulator();
    expect(sandbox.dialect.authRefusal).toEqual({ missing: "unauthorized_401", wrong: "unauthorized_401" });
    for (const headers of [wrongKey, unreadHeader]) {
      const refused = await call(sandbox, "GET", "/v0/webhooks", undefined, headers);
      expect([refused.status, refused.json]).toEqual([401, { message: "Invalid API key", code: "unauthorized" }]);
    }
  });
});

describe("validationBody", () => {
  it("message_only: a 400 is only { message }, e.g. beneficiary_type is required", async () => {
    const sandbox = await emulator({ profile: "legacy", validationBody: ValidationBody.MessageOnly });
    const headers = { authorization: KEY };
    const { type: _type, ...untyped } = alice;
    const missing = await call(sandbox, "POST", "/v0/customers", untyped, headers);
    expect([missing.status, missing.text]).toEqual([400, '{"message":"beneficiary_type is required"}']);

    const wrongField = await call(sandbox, "POST", "/v0/customers", alice, headers);
    expect(wrongField.status).toBe(400);
    expect(wrongField.json).toEqual({ message: "beneficiary_type is required; Unrecognized field: type" });

    const notJson = await call(sandbox, "POST", "/v0/customers", "{", headers);
    expect([notJson.status, notJson.json]).toEqual([400, { message: "Request body is not valid JSON" }]);
    const simulate = await call(sandbox, "POST", "/v0/customers/simulate", { action: "nope" }, headers);
    expect(simulate.json).toEqual({ message: "customer_id is required; action must be 'kyc.status.approve'" });
    expect(sandbox.state().customers).toEqual([]);
  });

  it("message_only leaves refusals that are not validation with their code", async () => {
    const sandbox = await emulator({ validationBody: ValidationBody.MessageOnly });
    const headers = { authorization: KEY };
    const id = (await call(sandbox, "POST", "/v0/customers", alice, headers)).json.customer_id as string;
    const duplicate = await call(sandbox, "POST", "/v0/customers", alice, headers);
    expect([duplicate.status, duplicate.json.code]).toEqual([409, "customer_already_exists"]);
    const simulate = await call(
      sandbox,
      "POST",
      "/v0/customers/simulate",
      { customer_id: id, action: "kyc.status.approve" },
      headers,
    );
    expect([simulate.status, simulate.json.code]).toEqual([400, "kyc_session_required"]);
  });

  it("the default keeps { message, code, errors }", async () => {
    const sandbox = await emulator();
    const { type: _type, ...untyped } = alice;
    const refused = await call(sandbox, "POST", "/v0/customers", untyped, { authorization: KEY });
    expect(refused.json).toEqual({
      message: "Validation failed",
      code: "validation_error",
      errors: [{ path: ["type"], message: "type is required" }],
    });
  });
});

it("an unknown dialect value is refused at start", async () => {
  await expect(startAlignSandbox({ apiKey: KEY, authRefusal: "teapot_418" as AuthRefusal })).rejects.toThrow(
    /authRefusal "teapot_418"/,
  );
  await expect(
    startAlignSandbox({ apiKey: KEY, validationBody: "xml" as ValidationBody, createAnswer: CreateAnswer.Customer }),
  ).rejects.toThrow(/validationBody/);
});
