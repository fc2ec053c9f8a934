/**
 * The emulator's clock is injectable: every instant it records comes from
 * `now()`, so a simulation that advances virtual time sees what Align would
 * show at that time, KYC links expiring included.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AlignSandbox, startAlignSandbox } from "../src/index.js";
import { call, type Receiver, startReceiver } from "./wire.js";

const KEY = "clock-key";
const TTL_MS = 60_000;
const START = Date.parse("2031-03-04T05:06:07.000Z");
const clock = { ms: START };
const iso = (ms: number) => new Date(ms).toISOString();
const alice = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" };

let sandbox: AlignSandbox;
let receiver: Receiver;
const api = (method: string, path: string, body?: unknown) => call(sandbox, method, path, body, { "api-key": KEY });

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
