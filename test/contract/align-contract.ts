/**
 * The Align client's contract, as one suite that runs against the emulator in
 * `npm test` and against the real Align sandbox in `npm run test:live`, so the
 * emulator and the real API are held to the same checks. The client runs with
 * no wire configuration, as a first-time user's would: it must learn the
 * contested variants itself. Where the documents disagree (auth header,
 * `type` vs `beneficiary_type`, email filter, simulate without a session, the
 * 409 body), it reports what the target did, with the values to pin.
 */
import {
  Align,
  AlignConflictError,
  AlignValidationError,
  type AuthHeader,
  type CustomerTypeField,
  refusesKey,
  type WireVariantLearned,
} from "@align-onboarding/align";
import { afterAll, describe, expect, it } from "vitest";

export interface ContractTarget {
  baseUrl: string;
  apiKey: string;
  /** The real API may take a while to settle a simulated decision. */
  settleMs: number;
  report: (line: string) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The header for each auth form, as the client names them (the values `ALIGN_AUTH_HEADER` takes). */
const authForms = (key: string): [AuthHeader, Record<string, string>][] => [
  ["authorization", { authorization: key }],
  ["api-key", { "api-key": key }],
  ["bearer", { authorization: `Bearer ${key}` }],
];

export function alignContract(target: () => ContractTarget): void {
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const email = (tag: string) => `align-contract+${run}-${tag}@example.com`;
  const learned: WireVariantLearned[] = [];
  let shared: Align | undefined;
  // One client for the whole run, like one per process: what it learns on the first call it keeps.
  const client = () => {
    shared ??= new Align({
      apiKey: target().apiKey,
      baseUrl: target().baseUrl,
      environment: "sandbox",
      onWireVariantLearned: (event) => learned.push(event),
    });
    return shared;
  };
  const individual = (tag: string) =>
    ({ email: email(tag), type: "individual", first_name: "Contract", last_name: "Test" }) as const;
  const raw = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${target().baseUrl}/v0${path}`, {
      method,
      headers: {
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  // The headers of the form the client learned (raw probes speak the same dialect).
  const learnedHeaders = () =>
    authForms(target().apiKey).find(([name]) => name === client().wireVariants.authHeader)?.[1] ?? {};
  const keysOf = (body: unknown) =>
    typeof body === "object" && body !== null ? Object.keys(body).sort().join(", ") : typeof body;

  afterAll(async () => {
    // Nothing this run registered stays registered.
    const align = client();
    const { items } = await align.webhooks.list().catch(() => ({ items: [] as { id: string; url: string }[] }));
    for (const webhook of items)
      if (webhook.url.includes(run)) await align.webhooks.delete(webhook.id).catch(() => undefined);
  });

  describe("Align contract", () => {
    it("creates an individual customer", async () => {
      const customer = await client().customers.create(individual("individual"));
      expect(customer.customer_id).toMatch(UUID);
      expect(customer).toMatchObject({
        email: email("individual"),
        first_name: "Contract",
        last_name: "Test",
        kycs: null,
      });
      expect(customer.type).toBe("individual");
    });

    it("creates a corporate customer", async () => {
      const company = await client().customers.create({
        email: email("corporate"),
        type: "corporate",
        company_name: "Contract Co",
      });
      expect(company).toMatchObject({ company_name: "Contract Co", type: "corporate", kycs: null });
    });

    it("answers a duplicate email with 409", async () => {
      await client().customers.create(individual("duplicate"));
      const error = await client()
        .customers.create(individual("duplicate"))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AlignConflictError);
      const { body, status } = error as AlignConflictError;
      target().report(`duplicate email status: ${status}`);
      target().report(`409 body keys: ${keysOf(body)}`);
    });

    it("refuses invalid input before the network, with field paths", async () => {
      const error = await client()
        .customers.create({ email: "not-an-email", type: "corporate" } as never)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AlignValidationError);
      expect((error as AlignValidationError).errors.map((e) => e.path)).toEqual([["email"], ["company_name"]]);
    });

    it("gets a customer and finds it by email", async () => {
      const created = await client().customers.create(individual("lookup"));
      expect((await client().customers.get(created.customer_id)).email).toBe(email("lookup"));
      const { items } = await client().customers.list({ email: email("lookup") });
      expect(items.map((item) => item.customer_id)).toContain(created.customer_id);
    });

    it("starts KYC (pending, with a flow link) and simulates approval", async () => {
      const created = await client().customers.create(individual("kyc"));
      const session = await client().customers.createKycSession(created.customer_id);
      expect(session.kycs.status).toBe("pending");
      expect(session.kycs.kyc_flow_link).toMatch(/^https?:\/\//);
      const again = await client().customers.createKycSession(created.customer_id);
      target().report(
        `second KYC start: ${again.kycs.kyc_flow_link === session.kycs.kyc_flow_link ? "same link" : "new link"}, ${again.kycs.status}`,
      );
      expect(
        await client().customers.simulateCustomer({ customer_id: created.customer_id, action: "kyc.status.approve" }),
      ).toEqual({});
      const deadline = Date.now() + target().settleMs;
      let status: string | undefined;
      do {
        status = (await client().customers.get(created.customer_id)).kycs?.status;
        if (status !== "approved") await new Promise((resolve) => setTimeout(resolve, 1_000));
      } while (status !== "approved" && Date.now() < deadline);
      expect(status).toBe("approved");
    });

    it("registers, lists and deletes a webhook", async () => {
      const url = `https://example.com/align-onboarding-contract/${run}`;
      const webhook = await client().webhooks.create({ url });
      expect(webhook.url).toBe(url);
      expect((await client().webhooks.list()).items.map((item) => item.id)).toContain(webhook.id);
      const listed = (await (await raw("GET", "/webhooks", learnedHeaders())).json()) as { items?: unknown[] };
      target().report(`webhook list item keys: ${keysOf(listed.items?.[0])}`);
      await client().webhooks.delete(webhook.id);
      expect((await client().webhooks.list()).items.map((item) => item.id)).not.toContain(webhook.id);
    });

    it("reports what the client learned, as the values to pin", () => {
      const { authHeader, customerTypeField } = client().wireVariants;
      expect(authHeader).toBeDefined();
      expect(customerTypeField).toBeDefined();
      target().report(`client learned: ALIGN_AUTH_HEADER=${authHeader} ALIGN_CUSTOMER_TYPE_FIELD=${customerTypeField}`);
      target().report(
        `negotiation: ${learned.map((event) => `${event.point}=${event.variant} after ${event.tried} tried`).join(", ")}`,
      );
    });

    it("reports which wire variants the API accepts, each alone", async () => {
      const key = target().apiKey;
      const accepted: AuthHeader[] = [];
      for (const [name, headers] of authForms(key)) {
        const response = await raw("GET", `/customers?email=${encodeURIComponent(email("probe"))}`, headers);
        const body = await response.json().catch(() => undefined);
        // A gateway's 400 "Missing Authentication Token" refuses the form as a 401 or 403 does.
        if (!refusesKey(response.status, body, response.headers)) accepted.push(name);
      }
      target().report(`auth headers accepted: ${accepted.join(", ") || "none"}`);
      expect(accepted.length).toBeGreaterThan(0);

      const working = authForms(key).find(([name]) => name === accepted[0])?.[1] ?? {};
      const types: CustomerTypeField[] = [];
      for (const field of ["type", "beneficiary_type"] as const) {
        const response = await raw("POST", "/customers", working, {
          email: email(`field-${field}`),
          [field]: "individual",
          first_name: "Contract",
          last_name: "Test",
        });
        if (response.ok) types.push(field);
      }
      target().report(`customer type field accepted alone: ${types.join(", ") || "neither"}`);
      expect(types.length).toBeGreaterThan(0);

      // Create's own answer, an invalid create's error body, and a duplicate, all raw.
      const field = types[0] ?? "type";
      const body = { email: email("shape"), [field]: "individual", first_name: "Contract", last_name: "Test" };
      const created = await raw("POST", "/customers", working, body);
      const createdBody = (await created.json().catch(() => undefined)) as { kycs?: { status?: string } | null };
      target().report(
        `create answer: ${created.status}, kycs ${createdBody?.kycs === null ? "null" : (createdBody?.kycs?.status ?? "absent")}, keys: ${keysOf(createdBody)}`,
      );
      const duplicate = await raw("POST", "/customers", working, body);
      target().report(
        `duplicate email (raw): ${duplicate.status}, keys: ${keysOf(await duplicate.json().catch(() => ""))}`,
      );
      const invalid = await raw("POST", "/customers", working, { email: "not-an-email", [field]: "individual" });
      const invalidBody = (await invalid.json().catch(() => "")) as { errors?: unknown };
      target().report(
        `error body (invalid create): ${invalid.status}, keys: ${keysOf(invalidBody)}, errors[]: ${Array.isArray(invalidBody?.errors) ? "yes" : "no"}`,
      );
    });

    it("reports how the email filter compares case (uniqueness ignores it)", async () => {
      const mixed = email("Case").replace("align-contract", "Align-Contract");
      const created = await client().customers.create({ ...individual("case"), email: mixed });
      const duplicate = await client()
        .customers.create({ ...individual("case"), email: mixed.toLowerCase() })
        .catch((e: unknown) => e);
      target().report(
        `email uniqueness: ${duplicate instanceof AlignConflictError ? "ignores case (409)" : "case-sensitive"}`,
      );
      const { items } = await client().customers.list({ email: mixed.toLowerCase() });
      const found = items.some((item) => item.customer_id === created.customer_id);
      target().report(`email list filter: ${found ? "ignores case" : "exact (case-sensitive)"}`);
      expect((await client().customers.list({ email: mixed })).items.map((item) => item.customer_id)).toContain(
        created.customer_id,
      );
    });

    it("reports whether simulate needs a KYC session", async () => {
      const created = await client().customers.create(individual("no-session"));
      const outcome = await client()
        .customers.simulateCustomer({ customer_id: created.customer_id, action: "kyc.status.approve" })
        .then(
          () => "accepted",
          (error: { status?: number; code?: string }) => `refused ${error.status} ${error.code}`,
        );
      target().report(`simulate without a KYC session: ${outcome}`);
    });
  });
}
