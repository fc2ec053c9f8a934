/**
 * The seed document's examples (../shared/seed), run through the real client
 * against the emulator over loopback, with the outputs the seed shows.
 */

import Align, { AlignConflictError, AlignError, AlignValidationError } from "@align-onboarding/align";
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const API_KEY = "seed-test-key";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let sandbox: AlignSandbox;
let align: Align;

beforeAll(async () => {
  sandbox = await startAlignSandbox({ apiKey: API_KEY });
  align = new Align({ apiKey: API_KEY, environment: "sandbox", baseUrl: sandbox.url });
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.reset());

describe("seed: customers.create", () => {
  it("creates an individual customer with the documented shape", async () => {
    const customer = await align.customers.create({
      email: "alice@example.com",
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
    });
    expect(customer.customer_id).toMatch(UUID);
    expect(customer).toMatchObject({
      email: "alice@example.com",
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
      kycs: null,
    });
  });

  it("creates a corporate customer", async () => {
    const company = await align.customers.create({
      email: "billing@acme.example",
      type: "corporate",
      company_name: "Acme Corporation",
    });
    expect(company.company_name).toBe("Acme Corporation");
    expect(company.type).toBe("corporate");
    expect(company.kycs).toBeNull();
  });

  it("sends the key in one header and the type under one field name (the default profile's)", async () => {
    await align.customers.create({ email: "wire@example.com", type: "individual", first_name: "W", last_name: "Q" });
    // The emulator refuses beneficiary_type beside type (sdk profile), so one create means one field.
    expect(sandbox.state().customers[0]?.type).toBe("individual");
    expect(sandbox.state().requests).toEqual([
      expect.objectContaining({ status: 200, auth_headers: ["authorization"] }),
    ]);
  });

  it("error handling: 409 on a duplicate email (case-insensitive), as AlignError with status 409", async () => {
    const input = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" } as const;
    await align.customers.create(input);
    const error = await align.customers.create({ ...input, email: "ALICE@example.com" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignConflictError);
    expect(error).toBeInstanceOf(AlignError);
    expect((error as AlignError).status).toBe(409);
    expect((error as AlignError).requestId).toMatch(/^req_/);
    expect(sandbox.state().customers).toHaveLength(1);
  });

  it("error handling: AlignValidationError with the seed's path shape, before any request", async () => {
    const error = await align.customers
      .create({ email: "not-an-email", type: "individual", first_name: "Alice", last_name: "Smith" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlignValidationError);
    expect((error as AlignValidationError).errors).toEqual([{ path: ["email"], message: "Invalid email format" }]);
    expect(sandbox.state().requests).toHaveLength(0);
  });
});

describe("seed: complete workflow", () => {
  it("create -> KYC session -> simulate approval -> approved", async () => {
    const customer = await align.customers.create({
      email: "alice@example.com",
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
    });
    const kycSession = await align.customers.createKycSession(customer.customer_id);
    expect(kycSession.kycs.status).toBe("pending");
    expect(kycSession.kycs.kyc_flow_link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    const result = await align.customers.simulateCustomer({
      customer_id: customer.customer_id,
      action: "kyc.status.approve",
    });
    expect(result).toEqual({});

    const approved = await align.customers.get(customer.customer_id);
    expect(approved.kycs).toMatchObject({ status: "approved", sub_status: "kyc_form_submission_accepted" });
    expect(approved.kycs?.status_breakdown?.length).toBeGreaterThan(0);
    expect(approved.kycs?.kyc_flow_link).toBe(kycSession.kycs.kyc_flow_link);

    const { items } = await align.customers.list({ email: "alice@example.com" });
    expect(items.map((item) => item.customer_id)).toEqual([customer.customer_id]);
  });
});
