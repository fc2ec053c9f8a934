/**
 * The emulator's clock is injectable: every instant it records comes from
 * `now()`, so a simulation that advances virtual time sees what Align would
 * show at that time, KYC links expiring included.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AlignSandbox, KycRefusal, startAlignSandbox } from "../src/index.js";
import { call, type Receiver, startReceiver } from "./wire.js";

const KEY = "clock-key";
const TTL_MS = 60_000;
const START = Date.parse("2031-03-04T05:06:07.000Z");
const clock = { ms: START };
const iso = (ms: number) => new Date(ms).toISOString();
const alice = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" };

let sandbox: AlignSandbox;
let receiver: Receiver;
const api = (method: string, path: string, body?: unknown) => call(sandbox, method, path, body, { authorization: KEY });

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startAlignSandbox({ apiKey: KEY, kycLinkTtlMs: TTL_MS, now: () => clock.ms });
});
afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});
beforeEach(() => {
  sandbox.reset();
  clock.ms = START;
});

describe("virtual clock", () => {
  it("records every instant on the injected clock, not the machine's", async () => {
    const hook = await api("POST", "/v0/webhooks", { url: receiver.url });
    expect(hook.json.created_at).toBe(iso(START));

    const created = await api("POST", "/v0/customers", alice);
    // Align's customer shape has no created_at: the emulator keeps its own, in state only.
    expect(created.json).not.toHaveProperty("created_at");
    const id = created.json.customer_id as string;
    expect(sandbox.state().customers[0]?.created_at).toBe(iso(START));

    clock.ms += 1_000;
    await api("POST", `/v0/customers/${id}/kycs`);
    expect(sandbox.state().kyc_sessions[0]).toMatchObject({
      created_at: iso(START + 1_000),
      expires_at: iso(START + 1_000 + TTL_MS),
    });
    await sandbox.deliveriesSettled();
    const [delivery] = sandbox.state().deliveries;
    expect(delivery?.event.created_at).toBe(iso(START + 1_000));
    expect(delivery?.attempts.map((attempt) => attempt.at)).toEqual([iso(START + 1_000)]);
    expect(sandbox.state().requests.map((entry) => entry.at)).toEqual([iso(START), iso(START), iso(START + 1_000)]);
  });

  it("event instants stay strictly increasing while the virtual clock stands still", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    await api("POST", `/v0/customers/${id}/kycs`);
    await sandbox.decideKyc(id, "rejected");
    await sandbox.decideKyc(id, "approved");
    await sandbox.deliveriesSettled();
    expect(sandbox.state().deliveries.map((delivery) => delivery.event.created_at)).toEqual([
      iso(START),
      iso(START + 1),
      iso(START + 2),
    ]);
  });
});

describe("KYC session expiry on the virtual clock", () => {
  const approve = (id: string) =>
    api("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });

  it("without a session, simulate answers 400 kyc_session_required in { message, code }", async () => {
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    const refused = await approve(id);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
    expect(refused.headers.get("x-request-id")).toMatch(/^req_/);
    expect(refused.text).toBe(
      '{"message":"The customer has no active KYC session: start KYC first","code":"kyc_session_required"}',
    );
    expect(refused.json).toEqual({ message: KycRefusal.SessionRequired.message, code: "kyc_session_required" });
  });

  it("a link works until creation + TTL; from then on simulate answers 400 kyc_session_expired and changes nothing", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    const first = (await api("POST", `/v0/customers/${id}/kycs`)).json.kycs as { kyc_flow_link: string };
    await sandbox.deliveriesSettled();
    const deliveriesBefore = sandbox.state().deliveries.length;

    clock.ms = START + TTL_MS - 1;
    expect((await fetch(first.kyc_flow_link)).status).toBe(200);
    // The same session comes back while it works, on the virtual clock.
    expect((await api("POST", `/v0/customers/${id}/kycs`)).json.kycs).toMatchObject({
      kyc_flow_link: first.kyc_flow_link,
    });

    clock.ms = START + TTL_MS;
    expect((await fetch(first.kyc_flow_link)).status).toBe(410);
    const refused = await approve(id);
    expect(refused.status).toBe(400);
    expect(refused.text).toBe(
      '{"message":"The customer\'s KYC link expired: start KYC again","code":"kyc_session_expired"}',
    );
    expect((await api("GET", `/v0/customers/${id}`)).json.kycs).toMatchObject({
      status: "pending",
      kyc_flow_link: first.kyc_flow_link,
    });
    expect(sandbox.state().deliveries).toHaveLength(deliveriesBefore);

    // Hours later it is still refused: expiry does not heal by itself.
    clock.ms += 6 * 3_600_000;
    expect((await approve(id)).json.code).toBe("kyc_session_expired");
  });

  it("a new session lifts the refusal, with a new link that lives its own TTL", async () => {
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    const first = (await api("POST", `/v0/customers/${id}/kycs`)).json.kycs as { kyc_flow_link: string };
    clock.ms = START + TTL_MS + 5_000;
    expect((await approve(id)).json.code).toBe("kyc_session_expired");

    const renewed = await api("POST", `/v0/customers/${id}/kycs`);
    expect(renewed.status).toBe(201);
    const link = (renewed.json.kycs as { kyc_flow_link: string }).kyc_flow_link;
    expect(link).not.toBe(first.kyc_flow_link);
    expect(sandbox.state().kyc_sessions[0]).toMatchObject({
      created_at: iso(START + TTL_MS + 5_000),
      expires_at: iso(START + 2 * TTL_MS + 5_000),
    });
    expect(await approve(id)).toMatchObject({ status: 200, json: {} });
    expect((await api("GET", `/v0/customers/${id}`)).json.kycs).toMatchObject({ status: "approved" });

    // Approved stays approved once its link has expired too: `{}`, nothing changes.
    clock.ms += 10 * TTL_MS;
    expect(await approve(id)).toMatchObject({ status: 200, json: {} });
  });
});

describe("a KYC start while a session is open", () => {
  const link = (answer: { json: Record<string, unknown> }) =>
    (answer.json.kycs as { kyc_flow_link: string }).kyc_flow_link;

  it("hands the open session back by default, and opens another per request when told to", async () => {
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    const first = link(await api("POST", `/v0/customers/${id}/kycs`));
    expect(link(await api("POST", `/v0/customers/${id}/kycs`))).toBe(first);
    expect(sandbox.state().kyc_sessions_opened).toBe(1);
    sandbox.setKycSessions("per_request");
    try {
      const second = link(await api("POST", `/v0/customers/${id}/kycs`));
      expect(second).not.toBe(first);
      expect(sandbox.state().kyc_sessions_opened).toBe(2);
      expect((await api("GET", `/v0/customers/${id}`)).json.kycs).toMatchObject({ kyc_flow_link: second });
    } finally {
      sandbox.setKycSessions("reuse_active");
    }
  });
});

describe("a customer list that lags creation", () => {
  const listed = async (query = "?email=alice%40example.com") =>
    ((await api("GET", `/v0/customers${query}`)).json.items as { customer_id: string }[]).map((c) => c.customer_id);

  it("lists a customer at once by default", async () => {
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    expect(await listed()).toEqual([id]);
  });

  it("misses a new customer for listLagMs, while the 409 and the read by id see it at once", async () => {
    sandbox.setListLag(5_000);
    try {
      const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
      expect((await api("POST", "/v0/customers", alice)).status).toBe(409);
      expect((await api("GET", `/v0/customers/${id}`)).status).toBe(200);
      expect(await listed()).toEqual([]);
      expect(await listed("")).toEqual([]);
      clock.ms += 4_999;
      expect(await listed()).toEqual([]);
      clock.ms += 1;
      expect(await listed()).toEqual([id]);
      expect(await listed("")).toEqual([id]);
    } finally {
      sandbox.setListLag(0);
    }
  });

  it("refuses a negative or non-finite lag", async () => {
    expect(() => sandbox.setListLag(-1)).toThrow(/listLagMs/);
    expect(() => sandbox.setListLag(Number.NaN)).toThrow(/listLagMs/);
    await expect(startAlignSandbox({ apiKey: KEY, listLagMs: -1 })).rejects.toThrow(/listLagMs/);
  });
});
