import { ProblemError } from "../http/problem.js";
import type { HttpRequest } from "../http/request.js";

export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Exactly the header values {@link requireIdempotencyKey} accepts (after
 * HTTP's own trimming), for the OpenAPI document: 1-255 printable ASCII, or
 * the same inside quotes without quotes or backslashes. A bare value that
 * starts and ends with a quote is read as the quoted form.
 */
export const IDEMPOTENCY_KEY_PATTERN =
  '^(?:"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,255}"|(?!"[\\x20-\\x7e]*"$)[\\x20-\\x7e]{1,255})$';

/**
 * Reads the `Idempotency-Key` header. The IETF draft defines it as an
 * sf-string (`"abc"`); the bare form (`abc`) is accepted too.
 *
 * @throws {ProblemError} 400 `idempotency_key_missing` or `idempotency_key_invalid`.
 * @example
 * ```ts
 * const key = requireIdempotencyKey(request); // "9f1c..." for `Idempotency-Key: "9f1c..."`
 * ```
 */
export function requireIdempotencyKey(request: HttpRequest): string {
  const raw = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (raw === undefined) throw new ProblemError("idempotency_key_missing");
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) {
    key = key.slice(1, -1);
    if (/["\\]/.test(key)) {
      throw new ProblemError("idempotency_key_invalid", {
        detail: "A quoted key may not contain quotes or backslashes",
      });
    }
  }
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) {
    throw new ProblemError("idempotency_key_invalid", {
      detail: `The key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`,
    });
  }
  return key;
}
