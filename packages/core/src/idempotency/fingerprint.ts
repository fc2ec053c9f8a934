import { createHash } from "node:crypto";

/** JSON with object keys sorted, so key order and whitespace do not change a fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * What the key identifies: method, concrete path and canonical body. The same
 * key with another body (or for another customer) is a reuse.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return sha256(`${method}\n${path}\n${canonicalJson(body)}`);
}

/**
 * The record's id: the key scoped to (route, caller), hashed so neither the
 * caller's key nor their subject sits in a table key.
 */
export function scopeId(routeKey: string, sub: string, key: string): string {
  return sha256(`${routeKey}\n${sub}\n${key}`);
}
