import { httpHandler, parseDelivery, receiveWebhook, verifyDelivery } from "@align-onboarding/core";

/** `POST /webhooks/align` (no JWT; `x-hmac-signature` instead): Align's deliveries. */
export const handler = httpHandler("align-webhook", async (invocation) => {
  verifyDelivery(invocation);
  const event = parseDelivery(invocation);
  return receiveWebhook(invocation, event);
});
