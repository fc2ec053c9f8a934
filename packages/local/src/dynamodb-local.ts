/**
 * AWS's DynamoDB Local (Java) on loopback: what dynalite lacks and production
 * uses (TransactWriteItems with cancellation reasons, a failed conditional
 * write's ALL_OLD item), for the tests that need it and `npm start` with
 * DYNAMODB=local-java. The jar is fetched once by scripts/dynamodb-local.mjs
 * (docs/dynamodb-local.md says why from a tarball).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { type EmbeddedDynamo, localDynamoClient } from "./embedded-dynamo.js";

const fetchScript = fileURLToPath(new URL("../../../scripts/dynamodb-local.mjs", import.meta.url));
/** Where scripts/dynamodb-local.mjs keeps the emulator (kept in step with it). */
export const dynamoDbLocalDir = fileURLToPath(
  new URL("../../../.data/dynamodb-local/2.9.30/emulator", import.meta.url),
);

/** A DynamoDB Local this process started; `close` stops its JVM. */
export interface DynamoDbLocal extends EmbeddedDynamo {
  /** From spawning the JVM to its first answer, in ms. */
  startMs: number;
}

/** How to start DynamoDB Local (all optional). */
export interface DynamoDbLocalOptions {
  /** A free one when absent or 0. */
  port?: number;
  host?: string;
  /** Folder for data that survives restarts; in memory when absent. */
  dbPath?: string;
  /** The JVM's heap limit (default 384 MB: the tests' tables are small). */
  heapMb?: number;
  /** How long to wait for the first answer (default 60 s: a busy machine starts a JVM slowly). */
  startTimeoutMs?: number;
  /** Fetch the jar when it is missing (default true). */
  fetch?: boolean;
}

/** DynamoDB Local cannot run here (no Java, or the jar could not be fetched); the message says which. */
export class DynamoDbLocalUnavailableError extends Error {
  override name = "DynamoDbLocalUnavailableError";
}

const javaCommand = () => (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java");

/** Why DynamoDB Local cannot run on this machine (no usable `java`), or undefined when it can. */
export function javaMissing(): string | undefined {
  const probe = spawnSync(javaCommand(), ["-version"], { encoding: "utf8", timeout: 30_000 });
  if (probe.error || probe.status !== 0) {
    return `no Java runtime (${javaCommand()} -version: ${probe.error?.message ?? probe.stderr.trim()}); DynamoDB Local needs Java 17+, e.g. apt-get install default-jre-headless`;
  }
  return undefined;
}

/**
 * The folder holding DynamoDBLocal.jar, fetched (pinned and verified, by
 * scripts/dynamodb-local.mjs) when it is missing.
 *
 * @throws {DynamoDbLocalUnavailableError} when it is missing and cannot be fetched.
 */
export async function ensureDynamoDbLocalJar(fetch = true): Promise<string> {
  if (existsSync(join(dynamoDbLocalDir, "DynamoDBLocal.jar"))) return dynamoDbLocalDir;
  if (!fetch) throw new DynamoDbLocalUnavailableError(`DynamoDB Local is not in ${dynamoDbLocalDir}`);
  try {
    // A child process: the script is plain Node, so CI runs it the same way before anything is built.
    const { stdout } = await promisify(execFile)(process.execPath, [fetchScript], { timeout: 330_000 });
    return stdout.trim();
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new DynamoDbLocalUnavailableError(`DynamoDB Local could not be fetched: ${detail}`);
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * Starts DynamoDB Local in a JVM on loopback and waits until it answers.
 * `-sharedDb`: one database whatever the credentials, as dynalite (the
 * runtime signs with the environment's credentials when it has some).
 *
 * @throws {DynamoDbLocalUnavailableError} without Java or the jar; an Error when the JVM does not answer in time.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const missing = javaMissing();
  if (missing) throw new DynamoDbLocalUnavailableError(missing);
  const dir = await ensureDynamoDbLocalJar(options.fetch ?? true);
  const host = options.host ?? "127.0.0.1";
  // DynamoDB Local does not report a port it picked itself: find a free one first.
  const port = options.port || (await freePort(host));
  // Absolute: the JVM runs in the emulator's folder.
  const dbPath = options.dbPath ? resolve(options.dbPath) : undefined;
  if (dbPath) mkdirSync(dbPath, { recursive: true });
  const began = performance.now();
  const child = spawn(
    javaCommand(),
    [
      `-Xmx${options.heapMb ?? 384}m`,
      // One GC thread and no JIT tiers beyond C1's: a quicker start, on a small machine shared with the tests.
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      `-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`,
      "-jar",
      join(dir, "DynamoDBLocal.jar"),
      ...(dbPath ? ["-dbPath", dbPath] : ["-inMemory"]),
      "-sharedDb",
      "-port",
      String(port),
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  // Kept for the error message; drained so a chatty JVM never blocks on a full pipe.
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  // A test run that dies without its teardown must not leave a JVM behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = exited(child);
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(timer);
  };

  const endpoint = `http://${host}:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`DynamoDB Local exited (${child.exitCode ?? child.signalCode}) before answering:\n${output}`);
      }
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(2_000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer at ${endpoint} in time:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    client.destroy();
    await stop();
    throw error;
  }
  const startMs = Math.round(performance.now() - began);
  client.destroy();
  const ready = localDynamoClient(endpoint);
  return {
    endpoint,
    client: ready,
    startMs,
    close: async () => {
      ready.destroy();
      await stop();
    },
  };
}

/**
 * A DynamoDB that runs elsewhere (e.g. the tests' shared DynamoDB Local),
 * with the EmbeddedDynamo shape; closing it destroys only its client.
 */
export function connectDynamo(endpoint: string): EmbeddedDynamo {
  const client = localDynamoClient(endpoint);
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
    },
  };
}

/**
 * The DynamoDB Local at DYNAMODB_LOCAL_ENDPOINT when that is set (the test
 * run's, for the processes it spawns; left running on close), else a new one.
 *
 * @throws {DynamoDbLocalUnavailableError} when a new one cannot run here.
 */
export async function openDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<EmbeddedDynamo> {
  const running = process.env.DYNAMODB_LOCAL_ENDPOINT;
  return running ? connectDynamo(running) : startDynamoDbLocal(options);
}
