/**
 * Every place where the documented Align API disagrees with itself lives here,
 * so a fix after talking to the real API is a one-line change.
 */

export const AlignEnvironment = {
  Sandbox: "sandbox",
  Production: "production",
} as const;
export type AlignEnvironment = (typeof AlignEnvironment)[keyof typeof AlignEnvironment];

export const BASE_URLS: Record<AlignEnvironment, string> = {
  sandbox: "https://api-sandbox.alignlabs.dev",
  production: "https://api.alignlabs.dev",
};

/** Every path starts with this version prefix. */
export const API_PREFIX = "/v0";

/**
 * Newer reference pages name `Api-Key`; older pages and the public SDK send the
 * raw key as `Authorization`. Sending both satisfies either reading.
 */
export function authHeaders(apiKey: string): Record<string, string> {
  return { "api-key": apiKey, authorization: apiKey };
}

/** Headers in which Align (or a proxy in front of it) may return a request id. */
export const REQUEST_ID_HEADERS = ["x-request-id", "request-id", "x-amzn-requestid", "x-amz-cf-id"] as const;

export function readRequestId(headers: { get(name: string): string | null }): string | undefined {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers.get(name);
    if (value) return value;
  }
  return undefined;
}

/**
 * The customer type is `type` in the SDK and guide but `beneficiary_type` in the
 * API reference and production integrations; send both with the same value.
 */
export function toWireCustomer<T extends { type: string }>(body: T): T & { beneficiary_type: string } {
  return { ...body, beneficiary_type: body.type };
}
