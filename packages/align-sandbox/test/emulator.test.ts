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
  headers: Record<string, string> = { authorization: KEY },
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

/** A second emulator with another profile for one test. */
async function withSandbox<T>(
  options: Omit<Parameters<typeof startAlignSandbox>[0], "apiKey">,
  body: (other: AlignSandbox) => Promise<T>,
): Promise<T> {
  const other = await startAlignSandbox({ apiKey: KEY, ...options });
  const saved = sandbox;
  sandbox = other;
  try {
    return await body(other);
  } finally {
    sandbox = saved;
    await other.close();
  }
}

const authForms = {
  "api-key": { "api-key": KEY },
  authorization: { authorization: KEY },
  bearer: { authorization: `Bearer ${KEY}` },
} as const;

describe("authentication", () => {
  it.each([
    // profile, the one form accepted, [status to each form: api-key, authorization, bearer]
    ["sdk", "authorization", [401, 200, 401]],
    ["official", "api-key", [200, 403, 403]],
    ["legacy", "authorization", [401, 200, 401]],
    ["guide", "bearer", [400, 403, 200]],
  ] as const)(
    "profile %s accepts only %s, and refuses the others in its shapes",
    async (profile, _accepted, expected) => {
      await withSandbox({ profile }, async () => {
        const statuses: number[] = [];
        for (const headers of Object.values(authForms)) {
          statuses.push((await call("GET", "/v0/webhooks", undefined, headers)).status);
        }
        expect(statuses).toEqual(expected);
      });
    },
  );

  it("official: a key not in Api-Key meets the gateway's 403, a wrong one 403 Forbidden", async () => {
    await withSandbox({ profile: "official" }, async () => {
      const unread = await call("GET", "/v0/webhooks", undefined, authForms.authorization);
      expect(unread.json).toEqual({ message: "Missing Authentication Token" });
      expect(unread.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
      const wrong = await call("GET", "/v0/webhooks", undefined, { "api-key": "nope" });
      expect([wrong.status, wrong.json]).toEqual([403, { message: "Forbidden", code: "forbidden" }]);
    });
  });

  it("guide: no Authorization meets the gateway's 400; an explicit option still wins over the profile's", async () => {
    await withSandbox({ profile: "guide" }, async (other) => {
      const unread = await call("GET", "/v0/webhooks", undefined, authForms["api-key"]);
      expect([unread.status, unread.json]).toEqual([400, { message: "Missing Authentication Token" }]);
      expect(other.dialect.authRefusal).toEqual({ missing: "gateway_400", wrong: "forbidden_403" });
    });
    await withSandbox({ profile: "guide", authRefusal: "unauthorized_401" }, async (other) => {
      expect((await call("GET", "/v0/webhooks", undefined, authForms["api-key"])).status).toBe(401);
      expect(other.dialect.authRefusal).toEqual({ missing: "unauthorized_401", wrong: "unauthorized_401" });
    });
  });

  it("a bearer override accepts only Authorization: Bearer", async () => {
    await withSandbox({ auth: "bearer" }, async () => {
      expect((await call("GET", "/v0/webhooks", undefined, authForms.bearer)).status).toBe(200);
      expect((await call("GET", "/v0/webhooks", undefined, authForms.authorization)).status).toBe(401);
      expect((await call("GET", "/v0/webhooks", undefined, authForms["api-key"])).status).toBe(401);
    });
  });

  it("logs which headers carried a credential, by name only", async () => {
    await call("GET", "/v0/webhooks", undefined, { "api-key": KEY, authorization: `Bearer ${KEY}` });
    const [entry] = sandbox.state().requests;
    expect(entry?.auth_headers).toEqual(["api-key", "authorization:bearer"]);
    expect(JSON.stringify(sandbox.state().requests)).not.toContain(KEY);
  });

  it("rejects a wrong or missing key with 401 JSON (the default profile)", async () => {
    const denied = await call("GET", "/v0/webhooks", undefined, { authorization: "nope" });
    expect(denied.status).toBe(401);
    expect(denied.json).toEqual({ message: "Invalid API key", code: "unauthorized" });
    expect(denied.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await call("GET", "/v0/webhooks", undefined, {})).status).toBe(401);
  });
});

describe("customers", () => {
  it("sdk (the default) takes `type` only: beneficiary_type is a 400 naming both fields", async () => {
    const { type: _type, ...rest } = alice;
    const legacyBody = await call("POST", "/v0/customers", { ...rest, beneficiary_type: "individual" });
    expect(legacyBody.status).toBe(400);
    expect(legacyBody.json.errors).toEqual([
      { path: ["type"], message: "type is required" },
      { path: ["beneficiary_type"], message: "Unrecognized field: beneficiary_type" },
    ]);
    const both = await call("POST", "/v0/customers", { ...alice, beneficiary_type: "individual" });
    expect(both.status).toBe(400);
    expect(sandbox.state().customers).toHaveLength(0);
    expect((await call("POST", "/v0/customers", alice)).status).toBe(200);
  });

  it("legacy takes beneficiary_type only, refuses `type` in a message-only 400, and answers with it", async () => {
    await withSandbox({ profile: "legacy" }, async () => {
      const headers = authForms.authorization;
      const refused = await call("POST", "/v0/customers", alice, headers);
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({ message: "beneficiary_type is required; Unrecognized field: type" });
      const { type: _type, ...rest } = alice;
      const created = await call("POST", "/v0/customers", { ...rest, beneficiary_type: "individual" }, headers);
      expect(created.status).toBe(200);
      expect(created.json).toMatchObject({ beneficiary_type: "individual" });
      expect(created.json).not.toHaveProperty("type");
    });
  });

  it("enforces case-insensitive email uniqueness with 409", async () => {
    expect((await call("POST", "/v0/customers", alice)).status).toBe(200);
    const duplicate = await call("POST", "/v0/customers", { ...alice, email: "Alice@Example.COM" });
    expect(duplicate.status).toBe(409);
    expect(JSON.stringify(duplicate.json)).not.toContain("alice");
    expect(sandbox.state().customers).toHaveLength(1);
  });

  it("an emailFilter override lists by email case-insensitively", async () => {
    await withSandbox({ emailFilter: "case_insensitive" }, async () => {
      await call("POST", "/v0/customers", alice);
      await call("POST", "/v0/customers", { ...alice, email: "bob@example.com" });
      const found = await call("GET", "/v0/customers?email=ALICE%40example.com");
      expect((found.json.items as { email: string }[]).map((c) => c.email)).toEqual(["alice@example.com"]);
    });
  });

  it("sdk's list filter is exact, while uniqueness still ignores case", async () => {
    await withSandbox({ profile: "sdk" }, async () => {
      const headers = authForms.authorization;
      await call("POST", "/v0/customers", { ...alice, email: "Alice@Example.com" }, headers);
      expect((await call("POST", "/v0/customers", alice, headers)).status).toBe(409);
      const other = await call("GET", "/v0/customers?email=alice%40example.com", undefined, headers);
      expect(other.json.items).toEqual([]);
      const exact = await call("GET", "/v0/customers?email=Alice%40Example.com", undefined, headers);
      expect((exact.json.items as { email: string }[]).map((c) => c.email)).toEqual(["Alice@Example.com"]);
    });
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
    const again2 = await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
    expect(again2).toMatchObject({ status: 200, json: {} });
  });

  it("simulate without a KYC session is refused (400 kyc_session_required) and changes nothing", async () => {
    const created = await call("POST", "/v0/customers", alice);
    const id = created.json.customer_id as string;
    const refused = await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
    expect(refused.status).toBe(400);
    expect(refused.json.code).toBe("kyc_session_required");
    expect((await call("GET", `/v0/customers/${id}`)).json.kycs).toBeNull();
    expect(sandbox.state().deliveries).toEqual([]);
  });

  it("a KYC link expires: its flow answers 410, simulate is refused, a new start gives a new working link", async () => {
    await withSandbox({ kycLinkTtlMs: 300 }, async (short) => {
      const id = (await call("POST", "/v0/customers", alice)).json.customer_id as string;
      const first = (await call("POST", `/v0/customers/${id}/kycs`)).json.kycs as { kyc_flow_link: string };
      expect((await fetch(first.kyc_flow_link)).status).toBe(200);
      const [session] = short.state().kyc_sessions;
      expect(first.kyc_flow_link).toContain(session?.session_id);
      expect(Date.parse(session?.expires_at ?? "") - Date.parse(session?.created_at ?? "")).toBe(300);

      await new Promise((resolve) => setTimeout(resolve, 350));
      expect((await fetch(first.kyc_flow_link)).status).toBe(410);
      const refused = await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
      expect(refused.json.code).toBe("kyc_session_expired");

      const second = await call("POST", `/v0/customers/${id}/kycs`);
      const renewed = second.json.kycs as { status: string; kyc_flow_link: string };
      expect(renewed.status).toBe("pending");
      expect(renewed.kyc_flow_link).not.toBe(first.kyc_flow_link);
      expect((await fetch(renewed.kyc_flow_link)).status).toBe(200);
      expect((await fetch(first.kyc_flow_link)).status).toBe(410);
      expect((await call("GET", `/v0/customers/${id}`)).json.kycs).toMatchObject({
        kyc_flow_link: renewed.kyc_flow_link,
      });
      expect(
        (await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" })).status,
      ).toBe(200);
    });
  });

  it("rejected stays open to resubmission: the link works and a later approval is accepted", async () => {
    const id = (await call("POST", "/v0/customers", alice)).json.customer_id as string;
    const started = (await call("POST", `/v0/customers/${id}/kycs`)).json.kycs as { kyc_flow_link: string };
    await sandbox.decideKyc(id, "rejected");
    const rejected = await call("GET", `/v0/customers/${id}`);
    expect(rejected.json.kycs).toMatchObject({ status: "rejected", sub_status: "kyc_form_resubmission_required" });
    expect((await fetch(started.kyc_flow_link)).status).toBe(200);
    const again = await call("POST", `/v0/customers/${id}/kycs`);
    expect(again.json.kycs).toMatchObject({ status: "rejected", kyc_flow_link: started.kyc_flow_link });
    const approved = await call("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
    expect(approved.status).toBe(200);
    expect((await call("GET", `/v0/customers/${id}`)).json.kycs).toMatchObject({ status: "approved" });
  });

  it("an admin decision over HTTP rejects, and validates its input", async () => {
    const id = (await call("POST", "/v0/customers", alice)).json.customer_id as string;
    expect((await call("POST", `/_emulator/customers/${id}/kyc`, { status: "maybe" })).status).toBe(400);
    expect((await call("POST", "/_emulator/customers/nobody/kyc", { status: "rejected" })).status).toBe(404);
    const decided = await call("POST", `/_emulator/customers/${id}/kyc`, { status: "rejected" });
    expect(decided.json.kycs).toMatchObject({ status: "rejected" });
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
        headers: { authorization: KEY },
        body: JSON.stringify({ customer_id: "x", action: "kyc.status.approve" }),
      });
      expect(response.status).toBe(403);
    } finally {
      await production.close();
    }
  });
});

describe("webhook registration", () => {
  it.each([
    ["https://example.com/hook", 200],
    ["http://127.0.0.1:9/hook", 200],
    ["http://localhost:9/hook", 200],
    ["http://[::1]:9/hook", 200],
    ["http://example.com/hook", 400],
    ["http://127.0.0.1.example.com/hook", 400],
    ["ftp://example.com/hook", 400],
  ])("%s -> %i (HTTPS only, plain http on loopback)", async (url, status) => {
    const response = await call("POST", "/v0/webhooks", { url });
    expect(response.status).toBe(status);
    if (status === 400) expect(response.json.errors).toEqual([{ path: ["url"], message: "url must be an https URL" }]);
  });

  it("DELETE answers 204 with no body; an unknown id is 404", async () => {
    const created = await call("POST", "/v0/webhooks", { url: "https://example.com/hook" });
    const response = await fetch(`${sandbox.url}/v0/webhooks/${created.json.id}`, {
      method: "DELETE",
      headers: { authorization: KEY },
    });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(response.headers.get("content-type")).toBeNull();
    expect((await call("DELETE", `/v0/webhooks/${created.json.id}`)).status).toBe(404);
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
      fetch(`${url}${path}`, { method: "POST", headers: { authorization: KEY }, body: JSON.stringify(body) });
    const created = (await (await post(first.url, "/v0/customers", alice)).json()) as { customer_id: string };
    await post(first.url, "/v0/webhooks", { url: "http://127.0.0.1:9/hook" });
    await first.close();

    const second = await startAlignSandbox({ apiKey: KEY, dataFile });
    try {
      const read = await fetch(`${second.url}/v0/customers/${created.customer_id}`, {
        headers: { authorization: KEY },
      });
      expect(read.status).toBe(200);
      expect((await post(second.url, "/v0/customers", alice)).status).toBe(409);
      expect(second.state().webhooks).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});
