import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { tableDefinition } from "@align-onboarding/core";
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { StageMarker, stageMarkerItem } from "../../../infra/stage-marker.js";
import { close, listen } from "./listen.js";

export interface EmbeddedDynamo {
  /** e.g. `http://127.0.0.1:3002` */
  endpoint: string;
  /** A client for this endpoint (destroyed by `close`). */
  client: DynamoDBClient;
  close(): Promise<void>;
}

export interface EmbeddedDynamoOptions {
  port?: number;
  host?: string;
  /** LevelDB folder for data that survives restarts; in memory when absent. */
  path?: string;
}

/** A client for a DynamoDB on this machine (dynalite, DynamoDB Local): any credentials do. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/** Starts dynalite (DynamoDB's protocol, in process) on loopback. */
export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server: Server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  const endpoint = await listen(server, options.port, options.host);
  const client = localDynamoClient(endpoint);
  return {
    endpoint,
    client,
    close: async () => {
      // The client's keep-alive sockets would hold dynalite's graceful close open.
      client.destroy();
      await close(server);
    },
  };
}

/** Creates the single table (and its owner index) unless it exists; waits until it is active. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<"created" | "existing"> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return "existing";
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
  return "created";
}

/** A table already marked for another Align environment than the one asked for. */
export class StageMarkerMismatchError extends Error {
  override name = "StageMarkerMismatchError";
}

/**
 * Marks the table with the Align environment it serves (infra/stage-marker.ts),
 * as sst.config.ts does in AWS, so sandbox-reset can tell a sandbox table from
 * a production one by the table alone. A table keeps its first marker: data
 * kept for production is never re-labelled sandbox by a later start.
 *
 * @throws {StageMarkerMismatchError} when the table is already marked otherwise.
 */
export async function ensureStageMarker(
  client: DynamoDBClient,
  tableName: string,
  alignEnvironment: "sandbox" | "production",
): Promise<void> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: stageMarkerItem(alignEnvironment),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: StageMarker.partition }, sk: { S: StageMarker.sort } },
      ConsistentRead: true,
    }),
  );
  const marked = Item?.[StageMarker.attribute]?.S;
  if (marked !== alignEnvironment) {
    throw new StageMarkerMismatchError(
      `Table ${tableName} holds ${marked} data; use another DATA_DIR for ${alignEnvironment} (or ALIGN_ENVIRONMENT=${marked})`,
    );
  }
}
