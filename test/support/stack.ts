import { randomUUID } from "node:crypto";
import type { AlignSandbox } from "@align-onboarding/align-sandbox";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "@align-onboarding/local";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { capturedLogs } from "./log-guard.js";
import { assertDocumented } from "./openapi-validator.js";

export interface ApiCall {
  token?: string | null;
  key?: string | null;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  /** The body as received. */
  text: string;
}

export interface TestStack {
  stack: LocalStack;
  /** The environment that points a separate process's functions (invoke, bundles) at this stack. */
  functionEnv(): Record<string, string>;
  /** Every log line the functions wrote in this test file (captured instead of printed). */
  logs: string[];
  /**
   * Calls the API over loopback; a token for `user-a` and a fresh Idempotency-Key unless given.
   * Every answer is checked against the OpenAPI document (status, content type, headers, body): a
   * mismatch fails the test.
   */
  api(method: string, path: string, call?: ApiCall): Promise<ApiAnswer>;
  /** The stack's Align emulator (throws when the stack talks to a real Align). */
  sandbox(): AlignSandbox;
  /** The requests the emulator received for `route` (e.g. `AlignRoute.CreateCustomer`), in order. */
  alignRequests(route: string): ReturnType<AlignSandbox["state"]>["requests"];
  /** Every item in the table, by kind (`CUSTOMER`, `IDEMPOTENCY`, ...). */
  items(kind?: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export const individual = (email: string) => ({ email, type: "individual", first_name: "Ada", last_name: "Lovelace" });

/** A local stack on free ports, in memory, with helpers for tests. */
export async function startTestStack(options: LocalStackOptions = {}): Promise<TestStack> {
  const logs = capturedLogs();
  const stack = await startLocalStack({ sandboxWebhooks: { baseDelayMs: 20, maxAttempts: 3 }, ...options });
  const defaultToken = stack.token("user-a");
  const sandbox = () => {
    if (!stack.sandbox) throw new Error("emulator expected");
    return stack.sandbox;
  };
  return {
    sandbox,
    alignRequests: (route) =>
      sandbox()
        .state()
        .requests.filter((entry) => entry.route === route),
    stack,
    logs,
    functionEnv: () => ({
      DYNAMODB_ENDPOINT: stack.dynamo.endpoint,
      ALIGN_BASE_URL: stack.alignUrl,
      ALIGN_API_KEY: "sandbox-key",
      TABLE_NAME: stack.tableName,
      SIGNING_SECRETS: process.env.SIGNING_SECRETS ?? "",
    }),
    async api(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      const token = call.token === undefined ? defaultToken : call.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (method === "POST") {
        const key = call.key === undefined ? randomUUID() : call.key;
        if (key !== null) headers["idempotency-key"] = key;
      }
      let body: string | Buffer | undefined = call.rawBody;
      if (body === undefined && call.body !== undefined && method !== "GET") {
        body = JSON.stringify(call.body);
        headers["content-type"] ??= "application/json";
      }
      const init: RequestInit = { method, headers };
      if (body !== undefined) init.body = body;
      const response = await fetch(`${stack.apiUrl}${path}`, init);
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        json = { unparsed: text };
      }
      assertDocumented({ method, path, status: response.status, headers: response.headers, body: text });
      return { status: response.status, headers: response.headers, json, text };
    },
    async items(kind) {
      const output = await stack.dynamo.client.send(new ScanCommand({ TableName: stack.tableName }));
      const all = (output.Items ?? []).map((item) => {
        const flat: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(item)) flat[name] = value.S ?? value.N ?? value.BOOL ?? value;
        return flat;
      });
      return kind === undefined ? all : all.filter((item) => item.sk === kind);
    },
    close: () => stack.close(),
  };
}
