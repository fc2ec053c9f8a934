/**
 * The BUILT @align-onboarding/client (packages/client/dist, as an app bundles
 * it) runs the whole onboarding in a JavaScript runtime that is not Node:
 * headless Chromium (Debian's `chromium`, driven by playwright-core), from a
 * page on another origin than the API, so every call crosses CORS as a web
 * view or browser app does, answered as the deployed API Gateway answers it
 * (functions/routes.ts `cors`, which sst.config.ts deploys).
 *
 * The CORS answers themselves are checked without a browser; the browser part
 * skips, saying why, without a Chromium executable (as docs-browser.test.ts).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cors } from "../functions/routes.js";

type ClientModule = typeof import("@align-onboarding/client");

import { chromiumPath, launchChromium, NO_CHROMIUM } from "./support/chromium.js";
import { startTestStack, type TestStack } from "./support/stack.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}packages/client/dist`;
const executablePath = chromiumPath;
const reason = NO_CHROMIUM;
if (!executablePath) console.log(`app-client-browser.test.ts: the Chromium flow skipped: ${reason}`);

let t: TestStack;
let page: Server;
let pageUrl: string;
const gatewayLines: Record<string, string | number>[] = [];

beforeAll(async () => {
  if (!existsSync(`${dist}/cjs/package.json`)) {
    await promisify(execFile)("npm", ["run", "build", "--workspace", "packages/client"], { cwd: root });
  }
  t = await startTestStack({ log: (line) => gatewayLines.push(line) });
  // The app's origin: a blank page and the client's built files, nothing else.
  page = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://app.invalid").pathname;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>app</title>");
      return;
    }
    const file = /^\/client\/([\w/.-]+\.js)$/.exec(path)?.[1];
    if (!file || file.includes("..") || !existsSync(`${dist}/${file}`)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(`${dist}/${file}`));
  });
  await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => page?.close(resolve));
  await t?.close();
});

describe("CORS as the deployed API answers it", () => {
  it("a preflight is answered 204 by the gateway, before any token is checked", async () => {
    const response = await fetch(`${t.stack.apiUrl}/customers`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,idempotency-key",
      },
    });
    expect(response.status).toBe(204);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith("access-control-")))).toEqual({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": cors.allowMethods.join(","),
      "access-control-allow-headers": cors.allowHeaders.join(","),
      "access-control-max-age": String(cors.maxAgeSeconds),
    });
  });

  it("answers with an Origin carry allow-origin and expose the request id; the gateway's own 401 too", async () => {
    const ok = await fetch(`${t.stack.apiUrl}/customers`, {
      headers: { origin: "https://app.example", authorization: `Bearer ${t.stack.token("cors-user")}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    expect(ok.headers.get("access-control-expose-headers")).toBe("x-request-id,retry-after,idempotent-replayed");
    const refused = await fetch(`${t.stack.apiUrl}/customers`, { headers: { origin: "https://app.example" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
    // Without an Origin (a native app's fetch), nothing changes.
    const native = await fetch(`${t.stack.apiUrl}/openapi.json`);
    expect(native.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe.skipIf(!executablePath)(
  `the built client in headless Chromium${executablePath ? "" : ` (skipped: ${reason})`}`,
  () => {
    it("onboards end to end from another origin: create, request id, KYC, sandbox approval, wait, list", async () => {
      const browser = await launchChromium();
      try {
        const tab = await browser.newPage();
        const errors: string[] = [];
        tab.on("pageerror", (error) => errors.push(error.message));
        tab.on("console", (message) => {
          // Chromium logs every non-2xx it loads; the flow's one expected refusal is the 409.
          if (message.type() === "error" && !message.text().includes("status of 409")) errors.push(message.text());
        });
        await tab.goto(pageUrl);
        const preflightsBefore = gatewayLines.filter((line) => line.route === "OPTIONS (CORS preflight)").length;
        const result = await tab.evaluate(
          async ({ apiUrl, token }) => {
            // The page's own runtime: no Node, only what a browser has (a web view's, Hermes's fetch alike).
            // import() spelled as text: vitest would rewrite a literal one in this function's source.
            const load = new Function("url", "return import(url)") as (url: string) => Promise<ClientModule>;
            const { AlignOnboarding, ApiError } = await load("/client/index.js");
            const api = new AlignOnboarding({ baseUrl: apiUrl, token });
            const email = `browser-${crypto.randomUUID().slice(0, 8)}@example.com`;
            const created = await api.customers
              .create({ email, type: "individual", first_name: "Ada", last_name: "Lovelace" })
              .withResponse();
            const customerId = created.data.customer_id;
            const started = await api.customers.startKyc(customerId);
            await api.sandbox.simulate(customerId, { action: "kyc.status.approve" });
            const approved = await api.customers.waitForKycStatus(customerId, {
              until: "approved",
              timeoutMs: 15_000,
              intervalMs: 100,
            });
            const conflict = await api.customers
              .create({ email, type: "individual", first_name: "Ada", last_name: "Lovelace" })
              .catch((error: unknown) => error);
            const listed: string[] = [];
            for await (const customer of api.customers.list({ limit: 1 })) listed.push(customer.customer_id);
            return {
              status: created.response.status,
              requestId: created.requestId,
              link: typeof started.kycs.kyc_flow_link,
              final: approved.kycs?.status,
              conflict:
                conflict instanceof ApiError
                  ? [conflict.code, conflict.customerId === customerId, conflict.requestId]
                  : [],
              listed: listed.length === 1 && listed[0] === customerId,
              origin: (globalThis as unknown as { location: { origin: string } }).location.origin,
            };
          },
          { apiUrl: t.stack.apiUrl, token: t.stack.token("browser-user") },
        );
        expect(result).toEqual({
          status: 201,
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          link: "string",
          final: "approved",
          conflict: ["email_already_exists", true, expect.stringMatching(/^[0-9a-f-]{36}$/)],
          listed: true,
          origin: pageUrl,
        });
        expect(new URL(pageUrl).origin).not.toBe(new URL(t.stack.apiUrl).origin);
        // Authorization and Idempotency-Key are not CORS-safelisted: the browser asked first.
        const preflights = gatewayLines.filter((line) => line.route === "OPTIONS (CORS preflight)").length;
        expect(preflights - preflightsBefore).toBeGreaterThan(0);
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    }, 60_000);
  },
);
