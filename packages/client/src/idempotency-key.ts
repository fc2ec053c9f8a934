/** No secure random source on this platform: an Idempotency-Key cannot be made safely. */
export class NoRandomSourceError extends Error {
  override name = "NoRandomSourceError";
}

/**
 * A new Idempotency-Key: a random UUID v4. Uses `crypto.randomUUID` where the
 * platform has it (browsers, Node), else
 * `crypto.getRandomValues` (React Native with `react-native-get-random-values`).
 * Without either it throws {@link NoRandomSourceError}: a key from
 * `Math.random` could collide with another operation's key, and the server
 * would then replay that operation's answer instead of running this one.
 *
 * @throws {NoRandomSourceError} when the platform has no `crypto.randomUUID` or `crypto.getRandomValues`.
 * @example
 * ```ts
 * const key = newIdempotencyKey(); // "3b241101-e2bb-4255-8caf-4136c566a962"
 * ```
 */
export function newIdempotencyKey(): string {
  const crypto = (
    globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (array: Uint8Array) => Uint8Array } }
  ).crypto;
  if (typeof crypto?.randomUUID === "function") return crypto.randomUUID();
  if (typeof crypto?.getRandomValues !== "function") {
    throw new NoRandomSourceError(
      "No secure random source (crypto.randomUUID or crypto.getRandomValues) to make an Idempotency-Key: " +
        "on React Native import 'react-native-get-random-values' once before the client, " +
        "on Expo pass `idempotencyKey: () => Crypto.randomUUID()` (expo-crypto) to the client, " +
        "or pass your own `idempotencyKey` (a key factory to the client, or a key to the call)",
    );
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
