/**
 * The single-table layout shared by every store (and by the local runtime and
 * sst.config.ts when they create the table). String keys only; emails never
 * appear in a key.
 *
 * | item                | pk                         | sk            | gsi1pk          | gsi1sk                   |
 * |---------------------|----------------------------|---------------|-----------------|--------------------------|
 * | customer            | `CUSTOMER#<customer_id>`   | `CUSTOMER`    | `OWNER#<sub>`   | `<created_at>#<id>`      |
 * | idempotency record  | `IDEMPOTENCY#<sha256>`     | `IDEMPOTENCY` |                 |                          |
 * | stage marker        | `STAGE`                    | `STAGE`       |                 |                          |
 */
export const TableKeys = {
  partition: "pk",
  sort: "sk",
  ownerIndex: "gsi1",
  ownerPartition: "gsi1pk",
  ownerSort: "gsi1sk",
  /** Epoch seconds; DynamoDB TTL deletes items some time after it passes. */
  ttl: "expires_at",
} as const;

/** Item kinds, as the prefix of their partition key. */
export const ItemKind = {
  Customer: "CUSTOMER",
  Idempotency: "IDEMPOTENCY",
} as const;
export type ItemKind = (typeof ItemKind)[keyof typeof ItemKind];

export const itemKey = (kind: ItemKind, id: string) => ({
  [TableKeys.partition]: { S: `${kind}#${id}` },
  [TableKeys.sort]: { S: kind },
});

/** CreateTable input for local runs and tests (SST declares the same in AWS). */
export function tableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      { AttributeName: TableKeys.partition, AttributeType: "S" as const },
      { AttributeName: TableKeys.sort, AttributeType: "S" as const },
      { AttributeName: TableKeys.ownerPartition, AttributeType: "S" as const },
      { AttributeName: TableKeys.ownerSort, AttributeType: "S" as const },
    ],
    KeySchema: [
      { AttributeName: TableKeys.partition, KeyType: "HASH" as const },
      { AttributeName: TableKeys.sort, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TableKeys.ownerIndex,
        KeySchema: [
          { AttributeName: TableKeys.ownerPartition, KeyType: "HASH" as const },
          { AttributeName: TableKeys.ownerSort, KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: "ALL" as const },
      },
    ],
  };
}
