/**
 * The built @align-onboarding/client is what an app bundles: no dependencies,
 * nothing but its own files imported (no zod, no AWS SDK, no Node built-ins),
 * types generated from the app document without drift, and it runs from
 * dist/ in a fresh process.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { openApiAppDocument, renderApiTypes } from "@align-onboarding/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./support/stack.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const packageDir = `${root}packages/client`;
let t: TestStack;

beforeAll(async () => {
  if (!existsSync(`${packageDir}/dist/cjs/package.json`)) {
    await run("npm", ["run", "build", "--workspace", "packages/client"], { cwd: root });
  }
  t = await startTestStack({ registerWebhook: false });
}, 60_000);
afterAll(() => t.close());

const jsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? jsFiles(`${dir}/${entry.name}`) : entry.name.endsWith(".js") ? [`${dir}/${entry.name}`] : [],
  );

describe("@align-onboarding/client", () => {
  it("has types generated from docs/openapi.app.json (run `npm run openapi` after changing the schemas)", () => {
    expect(readFileSync(`${packageDir}/src/api-types.ts`, "utf8")).toBe(
      renderApiTypes(JSON.parse(openApiAppDocument())),
    );
  });

  it("depends on nothing, and its built files import only each other, with no Node built-ins", () => {
    const manifest = JSON.parse(readFileSync(`${packageDir}/package.json`, "utf8")) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.exports).toEqual({
      ".": {
        source: "./src/index.ts",
        types: "./dist/index.d.ts",
        require: "./dist/cjs/index.js",
        default: "./dist/index.js",
      },
    });
    // Metro without package exports reads `react-native`, then `main`; Jest in an RN project `require`s.
    expect([manifest["react-native"], manifest.main]).toEqual(["./dist/index.js", "./dist/cjs/index.js"]);
    const files = jsFiles(`${packageDir}/dist`);
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const code = readFileSync(file, "utf8");
      const cjs = file.includes("/dist/cjs/");
      const specifiers = cjs
        ? [...code.matchAll(/require\("([^"]+)"\)/g)].map((match) => match[1])
        : [...code.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((match) => match[1]);
      for (const specifier of specifiers) expect([file, specifier]).toEqual([file, expect.stringMatching(/^\.\.?\//)]);
      expect(code).not.toMatch(cjs ? /\b(?:process\.|Buffer\b|node:)/ : /\b(?:require\(|process\.|Buffer\b|node:)/);
      // Hermes has no private class fields (`#name`): none may reach a build.
      expect([file, code.match(/(?:this\.|^\s+)#[A-Za-z_]\w*/m)?.[0]]).toEqual([file, undefined]);
    }
    const types = readFileSync(`${packageDir}/dist/index.d.ts`, "utf8");
    expect(types).not.toMatch(/zod|@align-onboarding\//);
  });

  it("runs from dist/ in a fresh Node process", async () => {
    const code = `import AlignOnboarding, { GatewayError } from "@align-onboarding/client";
      const api = new AlignOnboarding({ baseUrl: process.env.API_URL, token: process.env.TOKEN });
      const created = await api.customers.create({ email: "dist@example.com", type: "individual", first_name: "D", last_name: "S" });
      const refused = await new AlignOnboarding({ baseUrl: process.env.API_URL, token: "bad" }).customers.list().catch((e) => e);
      console.log(JSON.stringify({ email: created.email, gateway: refused instanceof GatewayError }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], {
      cwd: root,
      env: { ...process.env, API_URL: t.stack.apiUrl, TOKEN: t.stack.token("dist-user"), NODE_OPTIONS: "" },
    });
    expect(JSON.parse(stdout)).toEqual({ email: "dist@example.com", gateway: true });
  });

  it("loads through require() (Jest in a React Native project), with the same exports", async () => {
    const code = `const client = require("@align-onboarding/client");
      console.log(JSON.stringify({ keys: Object.keys(client).sort(), same: client.default === client.AlignOnboarding }));`;
    const { stdout } = await run(process.execPath, ["-e", code], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const esm = await import(`${packageDir}/dist/index.js`);
    expect(JSON.parse(stdout)).toEqual({ keys: Object.keys(esm).sort(), same: true });
  });
});
