/**
 * The local API Gateway emulator: the events it builds (payload format 2.0)
 * and the answers it gives itself, checked with a recording handler.
 */
import type { ApiEvent, ApiResult } from "@align-onboarding/core";
import { type ApiGateway, LocalDefaults, signToken, startApiGateway } from "@align-onboarding/local";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let gateway: ApiGateway;
const seen: { event: ApiEvent; context: Context }[] = [];
const jwt = LocalDefaults.jwt;

beforeAll(async () => {
  gateway = await startApiGateway({
    routes: [
      { method: "POST", path: "/things/{thing_id}", function: "record", auth: "jwt" },
      { method: "GET", path: "/open", function: "record", auth: "none" },
      { method: "GET", path: "/slow", function: "slow", auth: "none" },
    ],
    jwt,
    timeoutSeconds: (name) => (name === "slow" ? 0.2 : 30),
    loadHandler: async (name) => {
      if (name === "slow") return () => new Promise<ApiResult>(() => undefined);
      return async (event, context) => {
        seen.push({ event, context });
        return { statusCode: 202, headers: { "x-handled": "yes" }, body: "handled" };
      };
    },
  });
});
afterAll(() => gateway.close());

describe("events", () => {
  it("builds a payload 2.0 event with path parameters, query, lower-cased headers and string claims", async () => {
    const token = signToken(jwt, "user-1", 3600, { groups: ["a", "b"], level: 3 });
    const response = await fetch(`${gateway.url}/things/caf%C3%A9?x=1&x=2&y=3`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "X-Custom": "v" },
      body: '{"a":1}',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get("x-handled")).toBe("yes");
    expect(await response.text()).toBe("handled");
    const { event, context } = seen.at(-1) ?? { event: undefined, context: undefined };
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "POST /things/{thing_id}",
      rawPath: "/things/caf%C3%A9",
      rawQueryString: "x=1&x=2&y=3",
      queryStringParameters: { x: "1,2", y: "3" },
      pathParameters: { thing_id: "café" },
      body: '{"a":1}',
      isBase64Encoded: false,
      headers: { "content-type": "application/json", "x-custom": "v" },
    });
    expect(event?.requestContext.authorizer.jwt.claims).toMatchObject({ sub: "user-1", groups: "[a b]", level: "3" });
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(29_000);
  });

  it("base64-encodes a body that is not text", async () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    await fetch(`${gateway.url}/things/x`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken(jwt, "u")}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
    const event = seen.at(-1)?.event;
    expect(event?.isBase64Encoded).toBe(true);
    expect(Buffer.from(event?.body ?? "", "base64")).toEqual(bytes);
  });

  it("passes no authorizer on a route without auth", async () => {
    await fetch(`${gateway.url}/open`);
    expect(seen.at(-1)?.event.requestContext.authorizer).toBeUndefined();
  });
});

describe("the gateway's own answers", () => {
  it("404 for an unknown route or method, 401 for a bad token, 500 when the function times out", async () => {
    expect((await fetch(`${gateway.url}/nothing`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/open`, { method: "DELETE" })).status).toBe(404);
    const unauthorized = await fetch(`${gateway.url}/things/x`, { method: "POST" });
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toEqual({ message: "Unauthorized" });
    const slow = await fetch(`${gateway.url}/slow`);
    expect(slow.status).toBe(500);
    expect(await slow.json()).toEqual({ message: "Internal Server Error" });
  });
});
