/**
 * The client against each emulator profile with no configuration: it learns
 * each contested wire detail in at most one extra request, keeps it, never
 * sends the key in two headers, and never retries a refusal for another
 * reason. Requests are counted at the emulator.
 */
import {
  Align,
  AlignAuthenticationError,
  AlignConflictError,
  AlignPermissionDeniedError,
  AlignServerError,
  AlignValidationError,
  type WireVariantLearned,
} from "@align-onboarding/align";
import {
  AlignRoute,
  type AlignSandbox,
  type AlignSandboxOptions,
  startAlignSandbox,
} from "@align-onboarding/align-sandbox";
import { afterEach, describe, expect, it } from "vitest";

const KEY = "negotiation-key-0123456789";
let sandbox: AlignSandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Omit<AlignSandboxOptions, "apiKey"> = {}): Promise<AlignSandbox> {
  sandbox = await startAlignSandbox({ apiKey: KEY, ...options });
  return sandbox;
}

function client(target: AlignSandbox, extra: Partial<ConstructorParameters<typeof Align>[0]> = {}) {
  const learned: WireVariantLearned[] = [];
  const align = new Align({
    apiKey: KEY,
    baseUrl: target.url,
    maxRetries: 0,
    onWireVariantLearned: (event) => learned.push(event),
    ...extra,
  });
  return { align, learned };
}

/** The seed's complete workflow; returns the number of requests it took at the emulator. */
async function seedWorkflow(align: Align, target: AlignSandbox, email: string): Promise<number> {
  const before = target.state().requests.length;
  const customer = await align.customers.create({ email, type: "individual", first_name: "Alice", last_name: "Smith" });
  expect(customer.type).toBe("individual");
  const session = await align.customers.createKycSession(customer.customer_id);
  expect(session.kycs.status).toBe("pending");
  await align.customers.simulateCustomer({ customer_id: customer.customer_id, action: "kyc.status.approve" });
  expect((await align.customers.get(customer.customer_id)).kycs?.status).toBe("approved");
  expect((await align.customers.list({ email })).items.map((item) => item.customer_id)).toEqual([customer.customer_id]);
  return target.state().requests.length - before;
}

const statuses = (target: AlignSandbox) => target.state().requests.map((entry) => entry.status);

function expectOneCredentialHeaderEach(target: AlignSandbox): void {
  const requests = target.state().requests;
  expect(requests.length).toBeGreaterThan(0);
  for (const entry of requests) expect(entry.auth_headers).toHaveLength(1);
}

describe("the seed's workflow against each profile, no configuration", () => {
  it.each([
    // profile, extra requests to learn, auth form, type field
    ["official", 0, "api-key", "type"],
    ["sdk", 1, "authorization", "type"],
    ["legacy", 2, "authorization", "beneficiary_type"],
  ] as const)(
    "%s: learns in %i extra request(s), at most one per contested point",
    async (profile, extra, auth, field) => {
      const target = await start({ profile });
      const { align, learned } = client(target);
      expect(await seedWorkflow(align, target, "alice@example.com")).toBe(5 + extra);
      // At most one refusal per point: one 401 (auth) and one 400 (type field).
      expect(statuses(target).filter((status) => status === 401).length).toBe(auth === "api-key" ? 0 : 1);
      expect(statuses(target).filter((status) => status === 400).length).toBe(field === "type" ? 0 : 1);
      expect(align.wireVariants).toEqual({ authHeader: auth, customerTypeField: field });
      expect(learned.map((event) => [event.point, event.variant])).toEqual([
        ["auth_header", auth],
        ["customer_type_field", field],
      ]);
      expect(JSON.stringify(learned)).not.toContain(KEY);

      // Learned for the client's life: a second run costs no extra request.
      expect(await seedWorkflow(align, target, "bob@example.com")).toBe(5);
      expect(learned).toHaveLength(2);
      expectOneCredentialHeaderEach(target);
    },
  );

  it("bearer-only Align: the first call exhausts its one retry (401), the next call finds it; pinned, no extra request", async () => {
    const target = await start({ auth: "bearer" });
    const { align } = client(target);
    const error = await align.webhooks.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignAuthenticationError);
    expect(statuses(target)).toEqual([401, 401]);
    await align.webhooks.list();
    expect(statuses(target)).toEqual([401, 401, 200]);
    expect(align.wireVariants.authHeader).toBe("bearer");

    const pinned = client(target, { authHeader: "bearer" }).align;
    expect(await seedWorkflow(pinned, target, "carol@example.com")).toBe(5);
    expectOneCredentialHeaderEach(target);
  });

  it("pinned variants are used as given and never negotiated", async () => {
    const target = await start({ profile: "legacy" });
    const { align, learned } = client(target, { authHeader: "authorization", customerTypeField: "beneficiary_type" });
    expect(await seedWorkflow(align, target, "dave@example.com")).toBe(5);
    expect(learned).toEqual([]);

    // Pinned wrong: refused once, never retried with another variant.
    const wrong = client(target, { authHeader: "api-key" }).align;
    const before = target.state().requests.length;
    await expect(wrong.webhooks.list()).rejects.toBeInstanceOf(AlignAuthenticationError);
    const wrongField = client(target, { authHeader: "authorization", customerTypeField: "type" }).align;
    await expect(
      wrongField.customers.create({ email: "erin@example.com", type: "corporate", company_name: "E" }),
    ).rejects.toBeInstanceOf(AlignValidationError);
    expect(target.state().requests.length - before).toBe(2);
    expectOneCredentialHeaderEach(target);
  });
});

describe("a request refused for another reason is not retried", () => {
  async function learnedClient() {
    const target = await start();
    const { align } = client(target);
    await align.webhooks.list();
    return { target, align, before: target.state().requests.length };
  }

  it("409 duplicate email: one request", async () => {
    const { target, align } = await learnedClient();
    const input = { email: "frank@example.com", type: "individual", first_name: "F", last_name: "R" } as const;
    await align.customers.create(input);
    const before = target.state().requests.length;
    await expect(align.customers.create(input)).rejects.toBeInstanceOf(AlignConflictError);
    expect(target.state().requests.length - before).toBe(1);
  });

  it("400 naming another field than the type: one request, the error kept", async () => {
    const { target, align, before } = await learnedClient();
    target.addFault({
      route: AlignRoute.CreateCustomer,
      action: { type: "status", status: 400, body: { message: "bad", errors: [{ path: ["email"], message: "no" }] } },
    });
    const error = await align.customers
      .create({ email: "gina@example.com", type: "individual", first_name: "G", last_name: "I" })
      .catch((e: unknown) => e);
    expect((error as AlignValidationError).errors).toEqual([{ path: ["email"], message: "no" }]);
    expect(target.state().requests.length - before).toBe(1);
  });

  it("400 naming the type field once the field is learned: one request", async () => {
    const { target, align } = await learnedClient();
    await align.customers.create({ email: "hal@example.com", type: "individual", first_name: "H", last_name: "A" });
    const before = target.state().requests.length;
    target.addFault({
      route: AlignRoute.CreateCustomer,
      action: { type: "status", status: 400, body: { errors: [{ path: ["type"], message: "no" }] } },
    });
    await expect(
      align.customers.create({ email: "ida@example.com", type: "individual", first_name: "I", last_name: "D" }),
    ).rejects.toBeInstanceOf(AlignValidationError);
    expect(target.state().requests.length - before).toBe(1);
    expect(target.state().customers).toHaveLength(1);
  });

  it("401 once the auth form is learned (a revoked key): one request", async () => {
    const { target, align, before } = await learnedClient();
    target.addFault({ route: AlignRoute.ListWebhooks, action: { type: "status", status: 401 } });
    await expect(align.webhooks.list()).rejects.toBeInstanceOf(AlignAuthenticationError);
    expect(target.state().requests.length - before).toBe(1);
  });

  it("403 and 500 on a POST: one request each", async () => {
    const { target, align, before } = await learnedClient();
    target.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 403 } });
    target.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    const input = { email: "jo@example.com", type: "individual", first_name: "J", last_name: "O" } as const;
    await expect(align.customers.create(input, { maxRetries: 2 })).rejects.toBeInstanceOf(AlignPermissionDeniedError);
    await expect(align.customers.create(input, { maxRetries: 2 })).rejects.toBeInstanceOf(AlignServerError);
    expect(target.state().requests.length - before).toBe(2);
  });

  it("a wrong key costs one extra request per call, and nothing is learned", async () => {
    const target = await start();
    const align = new Align({ apiKey: "not-the-key", baseUrl: target.url, maxRetries: 0 });
    await expect(align.webhooks.list()).rejects.toBeInstanceOf(AlignAuthenticationError);
    expect(statuses(target)).toEqual([401, 401]);
    expect(align.wireVariants).toEqual({ authHeader: undefined, customerTypeField: undefined });
    expectOneCredentialHeaderEach(target);
  });
});

describe("KYC session answer", () => {
  it("accepts { kycs: { kyc_flow_link } } without a status (the SDK docs' shape) as pending", async () => {
    const target = await start();
    const { align } = client(target);
    const customer = await align.customers.create({
      email: "kim@example.com",
      type: "individual",
      first_name: "K",
      last_name: "M",
    });
    target.addFault({
      route: AlignRoute.CreateKycSession,
      action: { type: "status", status: 201, body: { kycs: { kyc_flow_link: "https://kyc.example.com/flow/1" } } },
    });
    const session = await align.customers.createKycSession(customer.customer_id);
    expect(session.kycs).toEqual({ status: "pending", kyc_flow_link: "https://kyc.example.com/flow/1" });
  });
});

describe("client options", () => {
  it("refuses an unknown pin, naming the option", () => {
    const build = (extra: Record<string, unknown>) => () =>
      new Align({ apiKey: KEY, ...(extra as { authHeader?: "api-key" }) });
    expect(build({ authHeader: "x-api-key" })).toThrow(AlignValidationError);
    // Thrown, not only checked when something is: a build that passed would fail here.
    const thrown = (() => {
      try {
        build({ customerTypeField: "kind" })();
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(AlignValidationError);
    expect((thrown as AlignValidationError).errors.map((e) => e.path)).toEqual([["customerTypeField"]]);
  });

  it("refuses a plain-http webhook URL outside loopback before the network", async () => {
    const target = await start();
    const { align } = client(target);
    await expect(align.webhooks.create({ url: "http://example.com/hook" })).rejects.toBeInstanceOf(
      AlignValidationError,
    );
    expect(target.state().requests).toHaveLength(0);
    const webhook = await align.webhooks.create({ url: "http://127.0.0.1:9/hook" });
    await align.webhooks.delete(webhook.id);
    expect(target.state().webhooks).toEqual([]);
  });
});
