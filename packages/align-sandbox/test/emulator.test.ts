/**
 * The emulator over raw HTTP: Align's rules, and a JSON 4xx (never a crash or
 * a hang) for every malformed request.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlignRoute, type AlignSandbox, startAlignSandbox } from "../src/index.js";

const KEY = "emulator-key";
let sandbox: AlignSandbox;

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { "api-key": KEY },
) {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(`${sandbox.url}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) as Record<string, unknown> };
}

const alice = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" };

beforeAll(async () => {
  sandbox = await startAlignSandbox({ apiKey: KEY });
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.reset());

describe("authentication", () => {
  it("accepts the key as Api-Key, raw Authorization or Bearer; rejects others with 401 JSON", async () => {
    expect((await call("GET", "/v0/webhooks", undefined, { "api-key": KEY })).status).toBe(200);
    expect((await call("GET", "/v0/webhooks", undefined, { authorization: KEY })).status).toBe(200);
    expect((await call("GET", "/v0/webhooks", undefined, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    const denied = await call("GET", "/v0/webhooks", undefined, { "api-key": "nope" });
    expect(denied.status).toBe(401);
    expect(denied.json).toEqual({ message: "Invalid API key", code: "unauthorized" });
    expect(denied.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await call("GET", "/v0/webhooks", undefined, {})).status).toBe(401);
  });
});

describe("customers", () => {
  it("accepts beneficiary_type alone, and rejects a disagreement with type", async () => {
    const { type: _type, ...rest } = alice;
    expect((await call("POST", "/v0/customers", { ...rest, beneficiary_type: "individual" })).status).toBe(200);
    const clash = await call("POST", "/v0/customers", {
      ...alice,
      email: "b@example.com",
      beneficiary_type: "corporate",
    });
    expect(clash.status).toBe(400);
    expect(clash.json.errors).toEqual([{ path: ["beneficiary_type"], message: "type and beneficiary_type disagree" }]);
  });

  it("enforces case-insensitive email uniqueness with 409", async () => {
    expect((await call("POST", "/v0/customers", alice)).status).toBe(200);
    const duplicate = await call("POST", "/v0/customers", { ...alice, email: "Alice@Example.COM" });
    expect(duplicate.status).toBe(409);
    expect(JSON.stringify(duplicate.json)).not.toContain("alice");
    expect(sandbox.state().customers).toHaveLength(1);
  });

  it("lists by email, case-insensitively", async () => {
    await call("POST", "/v0/customers", alice);
    await call("POST", "/v0/customers", { ...alice, email: "bob@example.com" });
    const found = await call("GET", "/v0/customers?email=ALICE%40example.com");
    expect((found.json.items as { email: string }[]).map((c) => c.email)).toEqual(["alice@example.com"]);
  });

  it("answers 404 for an unknown or malformed id", async () => {
    expect((await call("GET", "/v0/customers/123e4567-e89b-12d3-a456-426614174000")).status).toBe(404);
    expect((await call("GET", "/v0/customers/%E0%A4%A")).status).toBe(404);
  });
});

describe("KYC and simulation", () => {
  it("a repeated KYC start returns the same session, and simulate approves", async () => {
    const created = await call("POST", "/v0/customers", alice);
    const id = created.json.customer_id as string;
    const first = await call("POST", `/v0/customers/${id}/kycs`);
    const again = await call("POST", `/v0/customers/${id}/kycs`, {});
    expect(first.status).toBe(201);
    expect(first.json.kycs).toMatchObject({ status: "pending", sub_status: "kyc_form_submission_started" });
    expect(again.json).toEqual(first.json);

    const simulated = await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
    expect(simulated).toMatchObject({ status: 200, json: {} });
    const read = await call("GET", `/v0/customers/${id}`);
    expect(read.json.kycs).toMatchObject({
      status: "approved",
      kyc_flow_link: (first.json.kycs as { kyc_flow_link: string }).kyc_flow_link,
    });
  });

  it("rejects unknown actions and unknown customers", async () => {
    const bad = await call("POST", "/v0/customers/simulate", { action: "kyc.status.explode" });
    expect(bad.status).toBe(400);
    expect((bad.json.errors as { path: string[] }[]).map((e) => e.path)).toEqual([["customer_id"], ["action"]]);
    const missing = await call("POST", "/v0/customers/simulate", {
      customer_id: "nobody",
      action: "kyc.status.approve",
    });
    expect(missing.status).toBe(404);
  });

  it("answers 403 to simulation in production mode", async () => {
    const production = await startAlignSandbox({ apiKey: KEY, environment: "production" });
    try {
      const response = await fetch(`${production.url}/v0/customers/simulate`, {
        method: "POST",
        headers: { "api-key": KEY },
        body: JSON.stringify({ customer_id: "x", action: "kyc.status.approve" }),
      });
      expect(response.status).toBe(403);
    } finally {
      await production.close();
    }
  });
});

describe("malformed requests get a JSON 4xx", () => {
  it.each([
    ["not JSON", "{", 400, "invalid_json"],
    ["a JSON array", "[1]", 400, "invalid_body"],
    ["JSON null", "null", 400, "invalid_body"],
    ["an empty body", "", 400, "invalid_body"],
  ])("create with %s", async (_label, body, status, code) => {
    const response = await call("POST", "/v0/customers", body);
    expect(response.status).toBe(status);
    expect(response.json.code).toBe(code);
  });

  it("a body over 1 MiB is 413", async () => {
    const response = await call("POST", "/v0/customers", JSON.stringify({ email: "x".repeat(1_100_000) }));
    expect(response.status).toBe(413);
    expect(response.json.code).toBe("payload_too_large");
  });

  it("unknown routes are 404 JSON and wrong methods 405 JSON", async () => {
    expect(await call("GET", "/v0/nothing")).toMatchObject({ status: 404, json: { code: "not_found" } });
    const wrong = await call("PATCH", "/v0/customers");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("POST");
  });

  it("garbage on the socket gets 400 and the server keeps serving", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(sandbox.port, "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk.toString();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain(`"code":"bad_request"`);
    expect((await call("GET", "/v0/webhooks")).status).toBe(200);
  });
});

describe("admin: faults, state and reset", () => {
  it("arms faults over HTTP, validates them, and counts down", async () => {
    const bad = await call("POST", "/_emulator/faults", { route: AlignRoute.ListWebhooks, action: { type: "boom" } });
    expect(bad.status).toBe(400);
    const armed = await call("POST", "/_emulator/faults", {
      route: AlignRoute.ListWebhooks,
      count: 2,
      action: { type: "status", status: 503, retry_after: 2 },
    });
    expect(armed.status).toBe(201);
    const first = await call("GET", "/v0/webhooks");
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("2");
    expect((await call("GET", "/v0/webhooks")).status).toBe(503);
    expect((await call("GET", "/v0/webhooks")).status).toBe(200);
    const state = await call("GET", "/_emulator/state");
    expect((state.json.requests as { status: number }[]).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("drop before commit changes nothing; drop after commit makes the change", async () => {
    sandbox.addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "before_commit" } });
    await expect(call("POST", "/v0/customers", alice)).rejects.toThrow();
    expect(sandbox.state().customers).toHaveLength(0);
    sandbox.addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    await expect(call("POST", "/v0/customers", alice)).rejects.toThrow();
    expect(sandbox.state().customers).toHaveLength(1);
  });

  it("a delayed request answers after the delay", async () => {
    sandbox.addFault({ route: AlignRoute.ListWebhooks, action: { type: "delay", ms: 200 } });
    const started = performance.now();
    expect((await call("GET", "/v0/webhooks")).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("reset forgets everything, faults included", async () => {
    await call("POST", "/v0/customers", alice);
    sandbox.addFault({ route: "*", action: { type: "status", status: 500 } });
    expect((await call("POST", "/_emulator/reset")).status).toBe(200);
    expect(sandbox.state()).toMatchObject({ customers: [], webhooks: [], deliveries: [], requests: [] });
    expect((await call("GET", "/v0/webhooks")).status).toBe(200);
  });
});

describe("persistence", () => {
  it("keeps customers and webhooks across a restart when given a data file", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dataFile = `${mkdtempSync(`${tmpdir()}/align-sandbox-`)}/state.json`;
    const first = await startAlignSandbox({ apiKey: KEY, dataFile });
    const post = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: "POST", headers: { "api-key": KEY }, body: JSON.stringify(body) });
    const created = (await (await post(first.url, "/v0/customers", alice)).json()) as { customer_id: string };
    await post(first.url, "/v0/webhooks", { url: "http://127.0.0.1:9/hook" });
    await first.close();

    const second = await startAlignSandbox({ apiKey: KEY, dataFile });
    try {
      const read = await fetch(`${second.url}/v0/customers/${created.customer_id}`, { headers: { "api-key": KEY } });
      expect(read.status).toBe(200);
      expect((await post(second.url, "/v0/customers", alice)).status).toBe(409);
      expect(second.state().webhooks).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
