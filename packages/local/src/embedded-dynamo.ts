import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { tableDefinition } from "@align-onboarding/core";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
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
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
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
