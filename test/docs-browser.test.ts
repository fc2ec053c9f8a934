import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routes } from "../functions/routes.js";
import { chromiumPath, launchChromium, NO_CHROMIUM } from "./support/chromium.js";
import { startTestStack, type TestStack } from "./support/stack.js";

const executablePath = chromiumPath;
const reason = NO_CHROMIUM;
if (!executablePath) console.log(`docs-browser.test.ts skipped: ${reason}`);

let t: TestStack;

describe.skipIf(!executablePath)(
  `GET /docs in headless Chromium${executablePath ? "" : ` (skipped: ${reason})`}`,
  () => {
    beforeAll(async () => {
      t = await startTestStack({ registerWebhook: false });
    });
    afterAll(() => t?.close());

    it("loads offline with no console errors, lists every operation, and Try it out GET /customers answers 200", async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        const offMachine: string[] = [];
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text());
        });
        page.on("pageerror", (error) => errors.push(error.message));
        // Nothing may leave this machine: a request elsewhere is recorded and refused.
        await page.route("**/*", (route) => {
          const url = new URL(route.request().url());
          if (url.hostname === "127.0.0.1" || url.protocol === "data:") return route.continue();
          offMachine.push(url.href);
          return route.abort();
        });
        await page.goto(`${t.stack.apiUrl}/docs`);
        await page.waitForSelector(".opblock", { timeout: 15_000 });

        // Every operation of the document is listed.
        const listed = await page.$$eval(".opblock", (blocks) => blocks.map((block) => block.id));
        const operationIds = ["createCustomer", "listCustomers", "getCustomer", "startKycSession", "simulateKyc"];
        for (const id of [...operationIds, "receiveAlignWebhook", "getOpenApi"]) {
          expect(listed.some((block) => block.endsWith(`-${id}`))).toBe(true);
        }
        expect(listed).toHaveLength(routes.length);

        // Authorize with a bearer token, then Try it out: GET /customers.
        const token = t.stack.token("docs-user");
        await page.click("button.authorize");
        await page.fill(".modal-ux input[type=text], .modal-ux input:not([type])", token);
        await page.click(".modal-ux .auth-btn-wrapper button.authorize");
        await page.click(".modal-ux button.btn-done, .modal-ux .close-modal");
        const operation = page.locator('[id$="-listCustomers"]');
        await operation.locator(".opblock-summary").click();
        const tryIt = operation.locator("button.try-out__btn");
        if ((await tryIt.count()) > 0 && ((await tryIt.textContent()) ?? "").includes("Try it out"))
          await tryIt.click();
        await operation.locator("button.execute").click();
        const status = operation.locator(".live-responses-table .response .response-col_status").first();
        await status.waitFor({ timeout: 10_000 });
        expect(((await status.textContent()) ?? "").trim()).toBe("200");
        const body = await operation
          .locator(".live-responses-table .microlight, .live-responses-table pre")
          .first()
          .textContent();
        expect(JSON.parse(body ?? "")).toEqual({ items: [] });

        expect(errors).toEqual([]);
        expect(offMachine).toEqual([]);
      } finally {
        await browser.close();
      }
    }, 60_000);

    it("offers the dev token, keeps it across a reload, names the create body's shapes, and each Execute is a new create", async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        await page.goto(`${t.stack.apiUrl}/docs`);
        await page.waitForSelector(".opblock", { timeout: 15_000 });
        await page.click("#dev-token");
        await page.locator("#dev-token-state", { hasText: "authorized" }).waitFor();
        await page.reload();
        await page.waitForSelector(".opblock", { timeout: 15_000 });
        expect(await page.textContent("#dev-token-state")).toContain("authorized");

        // Two Executes of the prefilled create: two customers (fresh key, unique email), no 409, no replay.
        const create = page.locator('[id$="-createCustomer"]');
        await create.locator(".opblock-summary").click();
        const tryIt = create.locator("button.try-out__btn");
        if ((await tryIt.count()) > 0 && ((await tryIt.textContent()) ?? "").includes("Try it out"))
          await tryIt.click();
        await create.locator("option", { hasText: "Corporate (company_name)" }).waitFor({ state: "attached" });
        const examples = (await create.locator(".opblock-section-request-body option").allTextContents()).slice(1);
        expect(examples).toEqual(["Individual (first_name, last_name)", "Corporate (company_name)"]); // after the media type
        expect(await create.locator("input[placeholder='idempotency-key']").inputValue()).toBe("fresh-on-every-try");
        const status = create.locator(".live-responses-table .response .response-col_status").first();
        const bodies: Record<string, unknown>[] = [];
        for (let i = 0; i < 2; i++) {
          const answered = page.waitForResponse((response) => response.url().endsWith("/customers"));
          await create.locator("button.execute").click();
          const response = await answered;
          expect([response.status(), response.headers()["idempotent-replayed"]]).toEqual([201, undefined]);
          bodies.push((await response.json()) as Record<string, unknown>);
          await status.waitFor({ timeout: 10_000 });
        }
        expect(bodies[0]?.customer_id).not.toBe(bodies[1]?.customer_id);
        expect(bodies.map((body) => body.email)).toEqual([
          expect.stringMatching(/^alice\+[0-9a-f]{8}@example\.com$/),
          expect.stringMatching(/^alice\+[0-9a-f]{8}@example\.com$/),
        ]);
        // Both belong to the dev token's subject.
        const listed = await t.api("GET", "/customers", { token: t.stack.token("docs-user") });
        expect(listed.json.items).toHaveLength(2);
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    }, 60_000);
  },
);
