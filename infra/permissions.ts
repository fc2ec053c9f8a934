/**
 * Least privilege by action: which DynamoDB actions each function's role
 * gets on the stage's table. SST's Dynamo link would grant `dynamodb:*` on
 * the table and its indexes (bulk deletes, UpdateTable, DeleteTable);
 * sst.config.ts instead links the table for its name only (`tableLink`) and
 * gives each function these actions (`tablePermissions`). Import-free apart
 * from the route table, and generic over the ARN type, so the deploy passes
 * Pulumi outputs and the tests pass strings.
 */
import { type FunctionName, functionSettings, Link } from "../functions/routes.js";

/**
 * DynamoDB transactions have no IAM action of their own: a TransactWriteItems
 * is allowed item by item by PutItem, UpdateItem, DeleteItem and
 * ConditionCheckItem (AWS, "Using IAM with DynamoDB transactions"). Our
 * transaction updates two items, so UpdateItem covers it.
 */
export const TableAccess = {
  /**
   * The API functions: items one at a time, conditional writes, the idempotency lock's release, the index,
   * and the list's one consistent read of a page's customers (BatchGetItem: the index only points).
   */
  api: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
  ],
  /** The sandbox reset: reads the stage marker, then Scan and BatchWriteItem, a page at a time. */
  reset: ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"],
  none: [],
} as const satisfies Record<string, readonly `dynamodb:${string}`[]>;
export type TableAccess = keyof typeof TableAccess;

/** Each function's access; a function not linked to the table has none (test/deploy-permissions.test.ts). */
export const tableAccess: Record<FunctionName, TableAccess> = {
  "create-customer": "api",
  "get-customer": "api",
  "start-kyc": "api",
  "sandbox-simulate": "api",
  "align-webhook": "api",
  "sandbox-reset": "reset",
  openapi: "none",
};

/** What a role may do on the table: `aws.permission`'s shape (`sst.aws.Function` `permissions`). */
export interface TablePermission<T> {
  actions: string[];
  resources: T[];
}

/**
 * The `permissions` of a function's `sst.aws.Function`: its actions on the
 * table, and Query also on its indexes (`<table arn>/index/*`).
 */
export function tablePermissions<T>(name: FunctionName, table: { arn: T; indexArns: T }): TablePermission<T>[] {
  const actions: readonly string[] = TableAccess[tableAccess[name]];
  if (actions.length === 0) return [];
  const onTable: TablePermission<T> = { actions: [...actions], resources: [table.arn] };
  // Only Query reads an index; nothing else needs the index ARNs.
  return actions.includes("dynamodb:Query")
    ? [onTable, { actions: ["dynamodb:Query"], resources: [table.indexArns] }]
    : [onTable];
}

/**
 * The table's link, for `sst.Linkable.wrap(sst.aws.Dynamo, ...)`: its name in
 * `Resource.Table.name`, and no permissions (`include` empty) so that linking
 * grants nothing; `tablePermissions` grants.
 */
export function tableLink<T>(table: { name: T }) {
  return { properties: { name: table.name }, include: [] as never[] };
}

/** True when `name` is linked to the table in functions/routes.ts. */
export const linksTable = (name: FunctionName): boolean => functionSettings[name].links.includes(Link.Table);
