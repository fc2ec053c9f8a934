/**
 * A new Idempotency-Key: a random UUID v4. Uses `crypto.randomUUID` where the
 * platform has it (browsers, Node), else `crypto.getRandomValues` (React
 * Native with `react-native-get-random-values`), else `Math.random` with the
 * time mixed in. Pass your own generator (`idempotencyKey` option) to choose.
 *
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
  const bytes = new Uint8Array(16);
  if (typeof crypto?.getRandomValues === "function") crypto.getRandomValues(bytes);
  else {
    const time = Date.now();
    for (let i = 0; i < 16; i++) bytes[i] = (Math.floor(Math.random() * 256) ^ (time / 2 ** ((i % 6) * 8))) & 0xff;
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
