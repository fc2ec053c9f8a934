/**
 * Every DynamoDB call ends inside the invocation's deadline: against a
 * DynamoDB that accepts connections and never answers, a function still
 * answers problem+json with Retry-After before Lambda would stop it (API
 * Gateway would otherwise answer a bare 5xx).
 */
import { readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { resetRuntime } from "@align-onboarding/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as getCustomer } from "../functions/get-customer.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const sockets: Socket[] = [];
const blackHole = createServer((socket) => sockets.push(socket)); // reads nothing, answers nothing
const saved = { ...process.env };

beforeAll(async () => {
  await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
  const address = blackHole.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  Object.assign(process.env, {
    TABLE_NAME: "deadline-test",
    ALIGN_API_KEY: "deadline-key",
    ALIGN_BASE_URL: "http://127.0.0.1:9",
    DYNAMODB_ENDPOINT: `http://127.0.0.1:${address.port}`,
  });
  resetRuntime();
});
afterAll(async () => {
  resetRuntime();
  process.env = saved;
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => blackHole.close(resolve));
});

describe("DynamoDB calls are bounded by the invocation's deadline", () => {
  it("a DynamoDB that never answers gives 503 service_unavailable with Retry-After, before the deadline", async () => {
    const event = JSON.parse(readFileSync(`${root}packages/local/events/get-customer.json`, "utf8"));
    const budgetMs = 1_500;
    const started = Date.now();
    const answer = await getCustomer(event, {
      awsRequestId: "deadline-1",
      getRemainingTimeInMillis: () => budgetMs - (Date.now() - started),
    });
    const elapsed = Date.now() - started;
    expect(answer.statusCode).toBe(503);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body).code).toBe("service_unavailable");
    expect(Number(answer.headers["retry-after"])).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(budgetMs);
    expect(sockets.length).toBeGreaterThan(0); // the call did reach the (silent) endpoint
  }, 15_000);
});
