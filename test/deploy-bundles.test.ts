/**
 * A deploy ships only bundles built from the current sources: the manifest
 * `npm run build` writes is re-hashed by sst.config.ts before it creates
 * anything, and bundle folders are absolute, wherever `sst` runs from.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { bundleDir, MANIFEST_FILE, manifestEntry, StaleBundleError, verifyBundles } from "../infra/bundles.js";

let root: string;
let dist: string;

/** A root with one source file and one "function" built from it. */
function build(source = "export const a = 1;") {
  writeFileSync(join(root, "src.ts"), source);
  const output = Buffer.from(`// built from ${source}`);
  mkdirSync(join(dist, "fn"), { recursive: true });
  writeFileSync(join(dist, "fn", "index.mjs"), output);
  writeFileSync(
    join(dist, MANIFEST_FILE),
    JSON.stringify({ fn: manifestEntry(["src.ts", "<runtime>:x"], output, root) }),
  );
}

function refusal(): string {
  try {
    verifyBundles(["fn"], { root, distDir: dist });
  } catch (error) {
    expect(error).toBeInstanceOf(StaleBundleError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toContain("npm run build");
    return message;
  }
  throw new Error("the stale bundle was accepted");
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "bundle-check-"));
  dist = join(root, "dist", "functions");
});

describe("bundle freshness", () => {
  it("accepts a bundle built from the current sources", () => {
    build();
    expect(() => verifyBundles(["fn"], { root, distDir: dist })).not.toThrow();
  });

  it("refuses when nothing was built", () => {
    expect(refusal()).toMatch(/No bundles to deploy/);
  });

  it("refuses a function with no bundle", () => {
    build();
    expect(() => verifyBundles(["fn", "other"], { root, distDir: dist })).toThrow(/bundle of other is missing/);
    rmSync(join(dist, "fn", "index.mjs"));
    expect(refusal()).toMatch(/bundle of fn is missing/);
  });

  it("refuses a bundle whose sources changed after the build", () => {
    build();
    writeFileSync(join(root, "src.ts"), "export const a = 2;");
    expect(refusal()).toMatch(/not built from the current sources/);
  });

  it("refuses a bundle whose source was deleted", () => {
    build();
    rmSync(join(root, "src.ts"));
    expect(refusal()).toMatch(/not built from the current sources/);
  });

  it("refuses a bundle edited after the build", () => {
    build();
    writeFileSync(join(dist, "fn", "index.mjs"), "export const handler = () => 'patched';");
    expect(refusal()).toMatch(/changed after it was built/);
  });

  it("ignores resource.enc, which SST writes into the bundle folder at deploy", () => {
    build();
    writeFileSync(join(dist, "fn", "resource.enc"), "ciphertext");
    expect(() => verifyBundles(["fn"], { root, distDir: dist })).not.toThrow();
  });
});

describe("bundle folders", () => {
  it("are absolute, so neither `sst deploy` from a subfolder nor `sst dev`'s worker resolves them again", () => {
    const previous = process.cwd();
    try {
      process.chdir(tmpdir());
      expect(isAbsolute(bundleDir("create-customer"))).toBe(true);
      expect(bundleDir("create-customer")).toMatch(/\/dist\/functions\/create-customer$/);
    } finally {
      process.chdir(previous);
    }
  });

  it("sst.config.ts takes every function's code from them and checks freshness before declaring anything", () => {
    const config = readFileSync(new URL("../sst.config.ts", import.meta.url), "utf8");
    expect(config).not.toMatch(/bundle:\s*[`"']/); // no literal (relative) bundle path
    expect(config).toMatch(/bundle: bundleDir\(name, `\$\{root\}\/dist\/functions`\)/);
    const checked = config.indexOf("verifyBundles(");
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThan(config.indexOf("new sst.")); // before the first resource
  });
});
