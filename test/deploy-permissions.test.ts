/**
 * The DynamoDB actions each role gets (infra/permissions.ts) cover what the
 * code can send, and no more than the issue allows: every DynamoDB command
 * built into an API function's bundle is granted to it, and the reset's
 * grant is checked against the commands it sends in test/sandbox-reset.test.ts.
 * A command added to core without its permission fails here, not in AWS
 * with AccessDenied.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildFunctions } from "@align-onboarding/local";
import { beforeAll, describe, expect, it } from "vitest";
import { FunctionName } from "../functions/routes.js";
import { linksTable, TableAccess, tableAccess, tableLink, tablePermissions } from "../infra/permissions.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let out = "";

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "permissions-"));
  await buildFunctions(out);
}, 120_000);

/** The DynamoDB operations a bundle can send: the SDK command classes esbuild kept in it. */
function operationsIn(name: string): string[] {
  const code = readFileSync(join(out, name, "index.mjs"), "utf8");
  const names = new Set([...code.matchAll(/"([A-Z][A-Za-z]+)Command"/g)].map((match) => match[1] ?? ""));
  // The SDK's endpoint discovery, off unless a client enables it (ours do not).
  names.delete("DescribeEndpoints");
  return [...names].sort();
}

/** The item actions core's transactions use (`TransactItems: [{ Update: ... }]`): IAM authorises each of them. */
function transactionItemActions(): string[] {
  const actions = new Set<string>();
  const files = ["idempotency/store.ts", "customers/customer-store.ts"];
  for (const file of files) {
    const source = readFileSync(join(ROOT, "packages/core/src", file), "utf8");
    for (const [, items] of source.matchAll(/TransactItems:\s*\[([^\]]*)\]/g)) {
      for (const [, kind] of (items ?? "").matchAll(/\{\s*(Put|Update|Delete|ConditionCheck)\s*:/g)) {
        actions.add(`dynamodb:${kind === "ConditionCheck" ? "ConditionCheckItem" : `${kind}Item`}`);
      }
    }
  }
  return [...actions];
}

/** The IAM actions an operation needs (a transaction has none of its own). */
const actionsFor = (operation: string): string[] =>
  operation === "TransactWriteItems" ? transactionItemActions() : [`dynamodb:${operation}`];

const apiFunctions = Object.values(FunctionName).filter(
  (name) => name !== FunctionName.SandboxReset && name !== FunctionName.OpenApi,
);

describe("what each role may do on the table", () => {
  it.each(apiFunctions)("%s is granted every DynamoDB action its bundle can send", (name) => {
    const granted = new Set<string>(TableAccess[tableAccess[name]]);
    const needed = operationsIn(name).flatMap(actionsFor);
    expect(needed.length).toBeGreaterThan(0);
    for (const action of needed) expect(granted.has(action), `${name} needs ${action}`).toBe(true);
  });

  it("the transaction's items are updates, which UpdateItem authorises", () => {
    expect(transactionItemActions()).toEqual(["dynamodb:UpdateItem"]);
  });

  it("openapi's bundle has no DynamoDB at all, and it gets nothing", () => {
    expect(operationsIn(FunctionName.OpenApi)).toEqual([]);
    expect(tablePermissions(FunctionName.OpenApi, { arn: "t", indexArns: "t/index/*" })).toEqual([]);
  });

  it("only the reset may Scan or BatchWriteItem; nobody may change or delete the table", () => {
    for (const name of Object.values(FunctionName)) {
      const actions = tablePermissions(name, { arn: "t", indexArns: "t/index/*" }).flatMap((p) => p.actions);
      const bulk = actions.filter((action) => action === "dynamodb:Scan" || action === "dynamodb:BatchWriteItem");
      expect(bulk.length > 0, name).toBe(name === FunctionName.SandboxReset);
      for (const action of actions)
        expect(action).toMatch(
          /^dynamodb:(GetItem|BatchGetItem|PutItem|UpdateItem|DeleteItem|Query|Scan|BatchWriteItem)$/,
        );
    }
  });

  it("a function has table actions exactly when routes.ts links it to the table", () => {
    for (const name of Object.values(FunctionName)) {
      expect(tableAccess[name] !== "none", name).toBe(linksTable(name));
    }
  });

  it("Query, alone, reaches the indexes", () => {
    expect(tablePermissions(FunctionName.GetCustomer, { arn: "t", indexArns: "t/index/*" })).toEqual([
      { actions: [...TableAccess.api], resources: ["t"] },
      { actions: ["dynamodb:Query"], resources: ["t/index/*"] },
    ]);
    expect(tablePermissions(FunctionName.SandboxReset, { arn: "t", indexArns: "t/index/*" })).toEqual([
      { actions: [...TableAccess.reset], resources: ["t"] },
    ]);
  });

  it("the table's link passes its name and no permission", () => {
    expect(tableLink({ name: "table-1" })).toEqual({ properties: { name: "table-1" }, include: [] });
  });
});
