/**
 * The built package (dist/, not the sources) runs both of the seed's forms:
 * `import Align from ...` and `require(...).default`, in fresh Node processes.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const dist = `${root}packages/align/dist`;
let sandbox: AlignSandbox;

const workflow = (alignExpr: string) => `
  const align = new (${alignExpr})({ apiKey: "exports-key", environment: "sandbox", baseUrl: process.env.ALIGN_URL });
  align.customers
    .create({ email: process.env.EMAIL, type: "individual", first_name: "Alice", last_name: "Smith" })
    .then((customer) => console.log(JSON.stringify(customer)))
    .catch((error) => { console.error(error); process.exit(1); });
`;

beforeAll(async () => {
  if (!existsSync(`${dist}/index.js`)) {
    // `npm test` builds first; this keeps a lone `vitest run` honest too.
    await run("npx", ["tsc", "-p", "packages/align/tsconfig.build.json"], { cwd: root });
  }
  sandbox = await startAlignSandbox({ apiKey: "exports-key" });
}, 60_000);
afterAll(() => sandbox.close());

async function node(args: string[], email: string, url = sandbox.url) {
  const { stdout } = await run(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ALIGN_URL: url, EMAIL: email, NODE_OPTIONS: "" },
  });
  return JSON.parse(stdout) as { customer_id: string; email: string };
}

describe("the built package", () => {
  it("ships type declarations with a default export", () => {
    const types = readFileSync(`${dist}/index.d.ts`, "utf8");
    expect(types).toMatch(/Align as default/);
    expect(existsSync(`${dist}/client.d.ts`)).toBe(true);
  });

  it("works as an ES module default import", async () => {
    const code = `import Align, { AlignError, AuthHeader, CustomerTypeField } from "@align-onboarding/align";
      if (typeof AlignError !== "function") process.exit(2);
      if (AuthHeader.ApiKey !== "api-key" || CustomerTypeField.BeneficiaryType !== "beneficiary_type") process.exit(3);
      ${workflow("Align")}`;
    const customer = await node(["--input-type=module", "-e", code], "esm@example.com");
    expect(customer.email).toBe("esm@example.com");
  });

  it("works through require(...).default", async () => {
    const code = `const Align = require("@align-onboarding/align").default; ${workflow("Align")}`;
    const customer = await node(["--input-type=commonjs", "-e", code], "cjs@example.com");
    expect(customer.email).toBe("cjs@example.com");
    expect(sandbox.state().customers.map((c) => c.email)).toContain("cjs@example.com");
  });

  it("negotiates the wire dialect as the sources do (legacy emulator profile)", async () => {
    const legacy = await startAlignSandbox({ apiKey: "exports-key", profile: "legacy" });
    try {
      const code = `const Align = require("@align-onboarding/align").default; ${workflow("Align")}`;
      const customer = await node(["--input-type=commonjs", "-e", code], "legacy@example.com", legacy.url);
      expect(customer.email).toBe("legacy@example.com");
      // Raw Authorization is the first form tried, so only the type field costs a refusal.
      expect(legacy.state().requests.map((entry) => entry.status)).toEqual([400, 200]);
    } finally {
      await legacy.close();
    }
  });
});
