/**
 * The client against every emulator profile with no configuration: the seed
 * workflow passes against a strict profile for each reading with at most 2
 * extra requests in total (measured and printed), the client keeps what it
 * learned, never sends the key in two headers, and never retries a refusal
 * Align may have acted on. Requests are counted at the emulator.
 */
import {
  Align,
  AlignAuthenticationError,
  AlignConflictError,
  AlignError,
  AlignPermissionDeniedError,
  AlignServerError,
  AlignUnexpectedResponseError,
  AlignValidationError,
  type WireVariantLearned,
} from "@align-onboarding/align";
import {
  AlignRoute,
  type AlignSandbox,
  type AlignSandboxOptions,
  startAlignSandbox,
} from "@align-onboarding/align-sandbox";
import { afterAll, afterEach, describe, expect, it } from "vitest";

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

const statuses = (target: AlignSandbox): number[] =>
  target.state().requests.map((entry) => (typeof entry.status === "number" ? entry.status : 0));

function expectOneCredentialHeaderEach(target: AlignSandbox): void {
  const requests = target.state().requests;
  expect(requests.length).toBeGreaterThan(0);
  for (const entry of requests) expect(entry.auth_headers).toHaveLength(1);
}

/** Extra requests measured per profile, printed once at the end (packages/align/README.md quotes them). */
const measured: string[] = [];
afterAll(() => {
  if (measured.length > 0)
    console.log(`\nExtra requests the seed workflow cost, per emulator profile:\n  ${measured.join("\n  ")}\n`);
});

describe("the seed's workflow against every profile, no configuration", () => {
  it.each([
    // profile, extra requests to learn, auth form, type field, the refusals met on the way
    ["sdk", 0, "authorization", "type", []],
    ["official", 1, "api-key", "type", [403]],
    ["legacy", 1, "authorization", "beneficiary_type", [400]],
    ["guide", 2, "bearer", "type", [403, 400]],
  ] as const)(
    "%s: passes with %i extra request(s), the key never in two headers",
    async (profile, extra, auth, field, refusals) => {
      const target = await start({ profile });
      const { align, learned } = client(target);
      expect(await seedWorkflow(align, target, "alice@example.com")).toBe(5 + extra);
      measured.push(`${profile}: ${extra} (${[...refusals].join(", ") || "no refusal"})`);
      expect(statuses(target).filter((status) => status !== 200 && status !== 201)).toEqual([...refusals]);
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

  it("the worst pairing of the two points still costs at most 2 extra requests", async () => {
    // Api-Key behind a gateway and beneficiary_type with message-only 400s: one refusal per point.
    const target = await start({
      profile: "official",
      customerTypeField: "beneficiary_type",
      validationBody: "message_only",
    });
    const { align } = client(target);
    expect(await seedWorkflow(align, target, "carol@example.com")).toBe(7);
    measured.push("official + beneficiary_type + message-only 400s: 2 (403, 400)");
    expect(statuses(target).filter((status) => status >= 400)).toEqual([403, 400]);
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

describe("each refusal of an unread key moves on (the probe's failures)", () => {
  it.each([
    ["unauthorized_401", 401, AlignAuthenticationError],
    ["forbidden_403", 403, AlignPermissionDeniedError],
    ["gateway_403", 403, AlignPermissionDeniedError],
    ["gateway_400", 400, AlignAuthenticationError],
  ] as const)("%s: one extra request to the Api-Key reading", async (authRefusal, status, errorClass) => {
    const target = await start({ profile: "official", authRefusal });
    const { align } = client(target);
    expect(await seedWorkflow(align, target, "fay@example.com")).toBe(6);
    expect(statuses(target)[0]).toBe(status);
    expectOneCredentialHeaderEach(target);

    // The same refusal for a wrong key: every form is tried once, then the refusal is the error.
    const wrongKey = new Align({ apiKey: "not-the-key", baseUrl: target.url, maxRetries: 0 });
    const before = target.state().requests.length;
    await expect(wrongKey.webhooks.list()).rejects.toBeInstanceOf(errorClass);
    expect(target.state().requests.length - before).toBe(3);
  });

  it("sdk with forbidden_403 or gateway_400 (the probe's cases): a pinned Api-Key client is refused once, an unpinned one never is", async () => {
    for (const authRefusal of ["forbidden_403", "gateway_400"] as const) {
      const target = await start({ profile: "sdk", authRefusal });
      const pinned = client(target, { authHeader: "api-key" }).align;
      await expect(pinned.webhooks.list()).rejects.toBeInstanceOf(AlignError);
      expect(await seedWorkflow(client(target).align, target, `gus-${authRefusal}@example.com`)).toBe(5);
      await target.close();
      sandbox = undefined;
    }
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

  it("a wrong key costs at most two extra requests per call (each form once), and nothing is learned", async () => {
    const target = await start();
    const align = new Align({ apiKey: "not-the-key", baseUrl: target.url, maxRetries: 0 });
    await expect(align.webhooks.list()).rejects.toBeInstanceOf(AlignAuthenticationError);
    expect(statuses(target)).toEqual([401, 401, 401]);
    expect(align.wireVariants).toEqual({ authHeader: undefined, customerTypeField: undefined });
    expectOneCredentialHeaderEach(target);
  });

  it("a 403 once the auth form is known (production simulate): one request", async () => {
    const target = await start({ environment: "production" });
    const { align } = client(target);
    await align.webhooks.list();
    const before = target.state().requests.length;
    await expect(
      align.customers.simulateCustomer({
        customer_id: "123e4567-e89b-12d3-a456-426614174000",
        action: "kyc.status.approve",
      }),
    ).rejects.toBeInstanceOf(AlignPermissionDeniedError);
    expect(target.state().requests.length - before).toBe(1);
  });
});

describe("source-backed shapes", () => {
  it("create answering 201 with kycs already pending and a link (older reference): the workflow passes", async () => {
    const target = await start({ createAnswer: "with_kycs" });
    const { align } = client(target);
    const customer = await align.customers.create({
      email: "hana@example.com",
      type: "individual",
      first_name: "H",
      last_name: "A",
    });
    expect(target.state().requests[0]?.status).toBe(201);
    expect(customer.kycs).toEqual({ status: "pending", kyc_flow_link: expect.stringMatching(/^http/) });
    const session = await align.customers.createKycSession(customer.customer_id);
    expect(session.kycs.kyc_flow_link).toBe(customer.kycs?.kyc_flow_link);
    await align.customers.simulateCustomer({ customer_id: customer.customer_id, action: "kyc.status.approve" });
    expect((await align.customers.get(customer.customer_id)).kycs?.status).toBe("approved");
    expect(statuses(target).every((status) => status < 300)).toBe(true);
  });

  it("webhook list and create items with webhook_id (SDK docs) are read, id set from it", async () => {
    const target = await start();
    const { align } = client(target);
    const item = { webhook_id: "wh_123", url: "https://api.example.com/hook", status: "active" };
    target.addFault({
      route: AlignRoute.ListWebhooks,
      action: { type: "status", status: 200, body: { items: [item] } },
    });
    target.addFault({ route: AlignRoute.CreateWebhook, action: { type: "status", status: 201, body: item } });
    const { items } = await align.webhooks.list();
    expect(items).toEqual([{ ...item, id: "wh_123" }]);
    expect((await align.webhooks.create({ url: item.url })).id).toBe("wh_123");
    // Neither id is an unexpected response, never a registration without an id.
    target.addFault({
      route: AlignRoute.ListWebhooks,
      action: { type: "status", status: 200, body: { items: [{ url: item.url }] } },
    });
    await expect(align.webhooks.list()).rejects.toBeInstanceOf(AlignUnexpectedResponseError);
  });

  it("a message-only 400 naming the type field (legacy) moves to beneficiary_type; one naming another field does not", async () => {
    const target = await start({ profile: "legacy" });
    const { align } = client(target);
    await align.customers.create({ email: "ivy@example.com", type: "individual", first_name: "I", last_name: "V" });
    expect(statuses(target)).toEqual([400, 200]);
    expect(align.wireVariants.customerTypeField).toBe("beneficiary_type");
    await target.close();

    const other = await start({ validationBody: "message_only" });
    const fresh = client(other).align;
    other.addFault({
      route: AlignRoute.CreateCustomer,
      action: { type: "status", status: 400, body: { message: "first_name must not contain digits" } },
    });
    const error = await fresh.customers
      .create({ email: "jan@example.com", type: "individual", first_name: "J", last_name: "N" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignValidationError);
    expect(other.state().requests).toHaveLength(1);
  });

  it.each([
    [400, { message: "A customer with this email already exists" }],
    [422, { message: "Validation failed", errors: [{ path: ["email"], message: "email has already been taken" }] }],
  ])("a duplicate email answered %i is an AlignConflictError (status and cause kept)", async (status, body) => {
    const target = await start();
    const { align } = client(target);
    target.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status, body } });
    const error = await align.customers
      .create({ email: "kai@example.com", type: "individual", first_name: "K", last_name: "A" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignConflictError);
    expect((error as AlignConflictError).status).toBe(status);
    expect((error as AlignConflictError).cause).toBeInstanceOf(AlignValidationError);
    expect(target.state().requests).toHaveLength(1);
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
