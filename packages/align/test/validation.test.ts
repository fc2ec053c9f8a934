import { describe, expect, it } from "vitest";
import { Align, AlignValidationError, CreateCustomerRequestSchema } from "../src/index.js";

/** A fetch that fails the test if the client ever reaches the network. */
function noNetwork(): { fetch: typeof fetch; calls: () => number } {
  let calls = 0;
  return {
    fetch: async () => {
      calls += 1;
      throw new Error("network must not be touched");
    },
    calls: () => calls,
  };
}

async function validationErrorOf(promise: Promise<unknown>): Promise<AlignValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AlignValidationError);
  return error as AlignValidationError;
}

describe("customers.create validation", () => {
  const net = noNetwork();
  const align = new Align({ apiKey: "k", fetch: net.fetch });

  it("reports every problem at once, with seed-style paths", async () => {
    const error = await validationErrorOf(align.customers.create({ email: "nope", type: "individual" } as never));
    expect(error.errors).toEqual([
      { path: ["email"], message: "Invalid email format" },
      { path: ["first_name"], message: "first_name is required for individual customers" },
      { path: ["last_name"], message: "last_name is required for individual customers" },
    ]);
    expect(error.status).toBe(400);
    expect(error.code).toBe("validation_error");
  });

  it("requires company_name for corporates, not names", async () => {
    const error = await validationErrorOf(align.customers.create({ email: "a@b.co", type: "corporate" } as never));
    expect(error.errors).toEqual([
      { path: ["company_name"], message: "company_name is required for corporate customers" },
    ]);
  });

  it("rejects an unknown type, blank names and non-objects", async () => {
    const badType = await validationErrorOf(align.customers.create({ email: "a@b.co", type: "robot" } as never));
    expect(badType.errors.map((e) => e.path)).toEqual([["type"]]);
    const blank = await validationErrorOf(
      align.customers.create({ email: "a@b.co", type: "individual", first_name: "  ", last_name: "X" }),
    );
    expect(blank.errors).toEqual([{ path: ["first_name"], message: "First name must not be empty" }]);
    const notObject = await validationErrorOf(align.customers.create("x" as never));
    expect(notObject.errors[0]?.path).toEqual([]);
  });

  it("accepts a valid body, trims names and strips unknown fields", () => {
    const parsed = CreateCustomerRequestSchema.parse({
      email: "alice@example.com",
      type: "individual",
      first_name: " Alice ",
      last_name: "Smith",
      favourite_colour: "blue",
    });
    expect(parsed).toEqual({ email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" });
  });

  it("refuses the emails the OpenAPI document's email rule refuses (local part over 64, bad dots, bad labels)", async () => {
    for (const email of [`${"a".repeat(65)}@b.co`, "a..b@b.co", ".a@b.co", "a.@b.co", "a@b-.co", "a@-b.co", "a@b.c"]) {
      const error = await validationErrorOf(
        align.customers.create({ email, type: "individual", first_name: "A", last_name: "B" }),
      );
      expect(error.errors).toEqual([{ path: ["email"], message: "Invalid email format" }]);
    }
    for (const email of [`${"a".repeat(64)}@b.co`, "O'Neil+tag@Sub.Example-1.com", "_a-b@b.co"]) {
      expect(CreateCustomerRequestSchema.safeParse({ email, type: "corporate", company_name: "C" }).success).toBe(true);
    }
    expect(net.calls()).toBe(0);
  });

  it("strips the other type's fields, so Align never receives them", () => {
    expect(
      CreateCustomerRequestSchema.parse({ email: "a@b.co", type: "corporate", company_name: "C", first_name: "F" }),
    ).toEqual({ email: "a@b.co", type: "corporate", company_name: "C" });
  });

  it("rejects bad ids and params before the network", async () => {
    expect((await validationErrorOf(align.customers.get("not-a-uuid"))).errors[0]?.path).toEqual(["customer_id"]);
    expect((await validationErrorOf(align.customers.createKycSession("../../etc"))).errors[0]?.path).toEqual([
      "customer_id",
    ]);
    expect((await validationErrorOf(align.customers.list({ email: "" }))).errors[0]?.path).toEqual(["email"]);
    const simulate = await validationErrorOf(
      align.customers.simulateCustomer({ customer_id: "x", action: "kyc.status.explode" } as never),
    );
    expect(simulate.errors.map((e) => e.path)).toEqual([["customer_id"], ["action"]]);
    expect((await validationErrorOf(align.webhooks.create({ url: "ftp://x" }))).errors[0]?.path).toEqual(["url"]);
    expect((await validationErrorOf(align.webhooks.delete(" "))).errors[0]?.path).toEqual(["id"]);
    expect(net.calls()).toBe(0);
  });
});

describe("client options", () => {
  it("names the bad option", () => {
    const error = (() => {
      try {
        new Align({ apiKey: "", timeoutMs: -1 });
      } catch (e) {
        return e;
      }
    })() as AlignValidationError;
    expect(error).toBeInstanceOf(AlignValidationError);
    expect(error.errors.map((e) => e.path)).toEqual([["apiKey"], ["timeoutMs"]]);
  });

  it("defaults to the sandbox host and lets baseUrl override it", () => {
    expect(new Align({ apiKey: "k" }).baseUrl).toBe("https://api-sandbox.alignlabs.dev");
    expect(new Align({ apiKey: "k", environment: "production" }).baseUrl).toBe("https://api.alignlabs.dev");
    expect(new Align({ apiKey: "k", baseUrl: "http://127.0.0.1:3001" }).baseUrl).toBe("http://127.0.0.1:3001");
  });
});
