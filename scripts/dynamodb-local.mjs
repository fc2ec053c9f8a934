#!/usr/bin/env node
/**
 * Fetches AWS's DynamoDB Local (the Java emulator) into .data/dynamodb-local/
 * unless it is already there, and prints the folder holding DynamoDBLocal.jar.
 *
 * Why a tarball and not a devDependency: DynamoDB Local ships inside the npm
 * package `amplify-dynamodb-simulator`, whose dependencies are 283 packages
 * (347 MB) that nothing here uses. Its tarball alone is ~56 MB, fetched only
 * where Java runs the tests (CI, `npm run dynamodb-local:fetch`, or the first
 * test run that wants it). The tarball's sha512 is pinned below, so a changed
 * registry answer fails loudly instead of running an unknown jar; only
 * `package/emulator/` is extracted.
 *
 * No dependencies (plain Node, `npm` and `tar`), so CI can run it before
 * anything is built. Safe to run concurrently: it extracts into a temporary
 * folder and renames it into place.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const DYNAMODB_LOCAL_PACKAGE = "amplify-dynamodb-simulator";
/** Its emulator/ is DynamoDB Local 1.25.1. */
export const DYNAMODB_LOCAL_PACKAGE_VERSION = "2.9.30";
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity` */
export const DYNAMODB_LOCAL_INTEGRITY =
  "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";

const root = fileURLToPath(new URL("../", import.meta.url));
/** Where the emulator is kept (.data/ is gitignored). */
export const dynamoDbLocalCache = join(root, ".data", "dynamodb-local");
/** The folder with DynamoDBLocal.jar and DynamoDBLocal_lib/ once fetched. */
export const dynamoDbLocalDir = join(dynamoDbLocalCache, DYNAMODB_LOCAL_PACKAGE_VERSION, "emulator");

/**
 * Makes sure DynamoDBLocal.jar is on disk, fetching and verifying the pinned
 * tarball when it is not.
 *
 * @returns the folder holding DynamoDBLocal.jar
 * @throws when npm, the registry or tar fail, or the tarball's sha512 differs
 */
export function ensureDynamoDbLocal(log = (line) => console.error(line)) {
  if (existsSync(join(dynamoDbLocalDir, "DynamoDBLocal.jar"))) return dynamoDbLocalDir;
  mkdirSync(dynamoDbLocalCache, { recursive: true });
  const work = mkdtempSync(join(dynamoDbLocalCache, "fetch-"));
  try {
    const spec = `${DYNAMODB_LOCAL_PACKAGE}@${DYNAMODB_LOCAL_PACKAGE_VERSION}`;
    log(`DynamoDB Local: fetching ${spec} (~56 MB, once) into ${dynamoDbLocalCache}`);
    execFileSync("npm", ["pack", spec, "--pack-destination", work, "--silent", "--no-fund", "--no-audit"], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 300_000,
    });
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${spec} wrote no tarball`);
    const path = join(work, tarball);
    const integrity = `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
    if (integrity !== DYNAMODB_LOCAL_INTEGRITY) {
      throw new Error(`${tarball}: sha512 ${integrity} is not the pinned ${DYNAMODB_LOCAL_INTEGRITY}`);
    }
    const extracted = join(work, "extracted");
    mkdirSync(extracted);
    execFileSync("tar", ["-xzf", path, "-C", extracted, "package/emulator"], { stdio: "inherit", timeout: 120_000 });
    mkdirSync(join(dynamoDbLocalCache, DYNAMODB_LOCAL_PACKAGE_VERSION), { recursive: true });
    try {
      renameSync(join(extracted, "package", "emulator"), dynamoDbLocalDir);
    } catch (error) {
      // Another process finished first: its copy is as good as this one.
      if (!existsSync(join(dynamoDbLocalDir, "DynamoDBLocal.jar"))) throw error;
    }
    return dynamoDbLocalDir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureDynamoDbLocal());
  } catch (error) {
    console.error(`DynamoDB Local could not be fetched: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
