import { describe, expect, it } from "vitest";
import {
  AlignWebhookPayloadError,
  isCustomerKycsUpdatedEvent,
  parseWebhookEvent,
  signPayload,
  verifySignature,
} from "../src/index.js";

const customer = {
  customer_id: "123e4567-e89b-12d3-a456-426614174000",
  email: "alice@example.com",
  type: "individual",
  kycs: { status: "approved", sub_status: "kyc_form_submission_accepted", brand_new_field: 1 },
};
const event = {
  event_type: "customer.kycs.updated",
  entity_id: customer.customer_id,
  entity_type: "customer",
  created_at: "2026-01-01T00:00:00.000Z",
  entity_object: customer,
};

function payloadError(body: string): AlignWebhookPayloadError {
  try {
    parseWebhookEvent(body);
  } catch (error) {
    expect(error).toBeInstanceOf(AlignWebhookPayloadError);
    return error as AlignWebhookPayloadError;
  }
  throw new Error("expected parseWebhookEvent to throw");
}

describe("parseWebhookEvent", () => {
  it("types customer.kycs.updated and keeps unknown fields", () => {
    const parsed = parseWebhookEvent(Buffer.from(JSON.stringify(event)));
    expect(isCustomerKycsUpdatedEvent(parsed)).toBe(true);
    if (!isCustomerKycsUpdatedEvent(parsed)) return;
    expect(parsed.entity_object?.kycs?.status).toBe("approved");
    expect(parsed.entity_object?.kycs).toMatchObject({ brand_new_field: 1 });
  });

  it("accepts the older shape without entity_object", () => {
    const { entity_object: _omitted, ...older } = event;
    const parsed = parseWebhookEvent(JSON.stringify(older));
    expect(isCustomerKycsUpdatedEvent(parsed) && parsed.entity_object).toBeUndefined();
  });

  it("parses unknown event types generically, so they can be acknowledged", () => {
    const parsed = parseWebhookEvent(
      JSON.stringify({ ...event, event_type: "card.issued", entity_type: "card", entity_object: 42 }),
    );
    expect(parsed.event_type).toBe("card.issued");
    expect(isCustomerKycsUpdatedEvent(parsed)).toBe(false);
  });

  it("throws with paths on truncated JSON, missing fields and bad timestamps", () => {
    expect(payloadError(JSON.stringify(event).slice(0, 40)).errors).toEqual([{ path: [], message: "Invalid JSON" }]);
    expect(payloadError(JSON.stringify({ ...event, entity_id: undefined })).errors[0]?.path).toEqual(["entity_id"]);
    expect(payloadError(JSON.stringify({ ...event, created_at: "yesterday" })).errors[0]?.path).toEqual(["created_at"]);
    expect(payloadError(JSON.stringify({ ...event, entity_object: { email: 1 } })).errors[0]?.path[0]).toBe(
      "entity_object",
    );
    expect(payloadError("[]").code).toBe("invalid_webhook_payload");
  });
});

describe("signatures", () => {
  it("round-trips and accepts upper-case hex", () => {
    const body = JSON.stringify(event);
    const signature = signPayload(body, "secret");
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySignature(body, signature, "secret")).toBe(true);
    expect(verifySignature(Buffer.from(body), signature.toUpperCase(), "secret")).toBe(true);
  });

  it("never matches with an empty secret list or empty secret", () => {
    const signature = signPayload("x", "");
    expect(verifySignature("x", signature, "")).toBe(false);
    expect(verifySignature("x", signature, [])).toBe(false);
  });
});
