import { createHmac, timingSafeEqual } from "node:crypto";

/** Header in which Align sends the signature. */
export const SIGNATURE_HEADER = "x-hmac-signature";

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

type RawBody = string | Uint8Array;

/**
 * Computes Align's webhook signature: hex HMAC-SHA256 of the raw body, keyed
 * with the API key (or a configured webhook secret).
 *
 * @example
 * ```ts
 * const signature = signPayload(rawBody, process.env.ALIGN_API_KEY!);
 * ```
 */
export function signPayload(rawBody: RawBody, secret: string): string {
  return createHmac("sha256", secret).update(rawBody).digest("hex");
}

/**
 * Checks an `x-hmac-signature` against the exact bytes received, in constant
 * time. Several secrets may be given so a key can be rotated without dropping
 * deliveries. A missing, empty or non-hex signature is simply invalid.
 *
 * @example
 * ```ts
 * const ok = verifySignature(rawBody, headers["x-hmac-signature"], [currentKey, previousKey]);
 * if (!ok) return { statusCode: 401 };
 * ```
 */
export function verifySignature(
  rawBody: RawBody,
  signature: string | null | undefined,
  secret: string | readonly string[],
): boolean {
  if (typeof signature !== "string") return false;
  const candidate = signature.trim();
  if (!HEX_SHA256.test(candidate)) return false;
  const received = Buffer.from(candidate, "hex");
  const secrets = typeof secret === "string" ? [secret] : secret;
  let valid = false;
  // Check every secret (no early exit) so timing does not reveal which one matched.
  for (const key of secrets) {
    if (key.length === 0) continue;
    const expected = createHmac("sha256", key).update(rawBody).digest();
    valid = timingSafeEqual(expected, received) || valid;
  }
  return valid;
}
