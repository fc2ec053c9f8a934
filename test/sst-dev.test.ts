/**
 * `sst dev` runs our prebuilt bundles: SST's own dev worker (the
 * nodejs-runtime `sst install` puts in .sst/platform) is started as SST's CLI
 * starts it (pkg/runtime/node/node.go: working folder = the bundle folder,
 * argument = bundle folder + handler) against a Lambda Runtime API on
 * 127.0.0.1. With the absolute folder sst.config.ts uses, it answers; with a
 * relative one (what the config had before), the path is resolved twice and
 * the worker cannot find the handler. Skipped until `npm run typecheck:infra`
 * has installed SST's platform (CI runs that first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildFunctions } from "@align-onboarding/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeResourceFile } from "./support/lambda-runner.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEV_RUNTIME = join(ROOT, ".sst", "platform", "dist", "nodejs-runtime", "index.js");
const installed = existsSync(DEV_RUNTIME);

let project = "";
let server: Server;
let runtimeApi = "";
const workers: ChildProcess[] = [];
/** What the worker posted back, by request id. */
const outcomes = new Map<string, (outcome: { kind: string; body: string }) => void>();
let initError: ((body: string) => void) | undefined;
/** Invocations waiting, by worker: SST gives each worker its own Runtime API path (server + workerID). */
const queues = new Map<string, { id: string; event: unknown }[]>();

beforeAll(async () => {
  if (!installed) return;
  project = mkdtempSync(join(tmpdir(), "sst-dev-"));
  mkdirSync(join(project, "dist", "functions"), { recursive: true });
  await buildFunctions(join(project, "dist", "functions"));
  // A Lambda Runtime API: hands out queued invocations, takes responses and errors.
  server = createServer((req, res) => {
    const url = req.url ?? "";
    if (req.method === "GET" && url.endsWith("/runtime/invocation/next")) {
      const next = queues.get(url.split("/")[1] ?? "")?.shift();
      if (!next) return; // no work: the worker waits, as on a real idle Lambda
      res.writeHead(200, {
        "content-type": "application/json",
        "lambda-runtime-aws-request-id": next.id,
        "lambda-runtime-deadline-ms": String(Date.now() + 10_000),
        "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:dev",
      });
      res.end(JSON.stringify(next.event));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const invocation = /\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (invocation?.[1]) outcomes.get(invocation[1])?.({ kind: invocation[2] ?? "", body });
      else if (url.endsWith("/runtime/init/error")) initError?.(body);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  runtimeApi = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  for (const worker of workers) worker.kill("SIGKILL");
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * Starts SST's dev worker as SST's CLI does for a function whose `bundle` is
 * `bundle` (absolute, or relative to the folder `sst dev` runs in), and
 * invokes it once.
 */
async function devInvoke(
  bundle: string,
  event: unknown,
  links: Record<string, Record<string, string>> = {},
  extraEnv: Record<string, string> = {},
) {
  const out = bundle.startsWith("/") ? bundle : join(project, bundle);
  // SST's Build writes resource.enc into the bundle folder, resolved against its own folder.
  const key = writeResourceFile(out, links);
  const id = `dev-${Math.random().toString(36).slice(2)}`;
  const workerId = `worker-${workers.length + 1}`;
  queues.set(workerId, [{ id, event }]);
  const answered = new Promise<{ kind: string; body: string }>((resolve) => {
    outcomes.set(id, resolve);
    initError = (body) => resolve({ kind: "init-error", body });
  });
  const worker = spawn(process.execPath, [DEV_RUNTIME, join(bundle, "index.handler"), workerId], {
    cwd: out, // cmd.Dir = input.Build.Out
    env: {
      PATH: process.env.PATH ?? "",
      AWS_LAMBDA_RUNTIME_API: `${runtimeApi}/${workerId}`,
      AWS_LAMBDA_FUNCTION_NAME: "dev",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "dev",
      AWS_SECRET_ACCESS_KEY: "dev",
      SST_RESOURCE_App: JSON.stringify({ name: "align-onboarding", stage: "dev" }),
      SST_KEY: key,
      SST_KEY_FILE: "resource.enc",
      SST_LIVE: "true",
      SST_DEV: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...extraEnv,
    },
    stdio: "ignore",
  });
  workers.push(worker);
  const timeout = new Promise<{ kind: string; body: string }>((resolve) =>
    setTimeout(() => resolve({ kind: "timeout", body: "" }), 15_000),
  );
  return Promise.race([answered, timeout]);
}

// Said in the output, never silent: `npm test` alone does not install SST's platform.
const SKIP_REASON = "SKIPPED: .sst/platform is not installed; run `npm run typecheck:infra` first, as CI does";
const SKIPPED = installed ? "" : ` [${SKIP_REASON}]`;
if (!installed) console.warn(`test/sst-dev.test.ts ${SKIP_REASON}`);

it.runIf(!installed && process.env.CI !== undefined)("CI installs SST's platform before the tests", () => {
  expect.fail("CI must run `npm run typecheck:infra` before `npm test`, or the sst dev tests below are skipped");
});

describe.skipIf(!installed)(`sst dev's worker with our prebuilt bundles${SKIPPED}`, () => {
  it("answers from the absolute bundle folder sst.config.ts uses", async () => {
    const outcome = await devInvoke(join(project, "dist", "functions", "openapi"), {});
    expect(outcome.kind).toBe("response");
    expect(JSON.parse(JSON.parse(outcome.body).body).openapi).toBe("3.1.0");
  });

  it("reads the links from resource.enc in that folder", async () => {
    // sandbox-reset's config needs the table and the key from resource.enc. DynamoDB is a closed
    // loopback port here, so with the links the reset fails reaching it (its config loaded); without, on its config.
    const noDynamo = { DYNAMODB_ENDPOINT: "http://127.0.0.1:9" };
    const reset = join(project, "dist", "functions", "sandbox-reset");
    const linked = await devInvoke(
      reset,
      { dryRun: true },
      {
        Table: { name: "dev-table", type: "sst.aws.Dynamo" },
        AlignApiKey: { value: "dev-key", type: "sst.sst.Secret" },
      },
      noDynamo,
    );
    expect(linked.kind).toBe("error");
    expect(linked.body).not.toContain("ConfigError");
    const unlinked = await devInvoke(reset, { dryRun: true }, {}, noDynamo);
    expect(unlinked.kind).toBe("error");
    expect(unlinked.body).toContain("ConfigError");
  }, 30_000);

  it("cannot find the handler from a relative bundle folder (resolved twice)", async () => {
    const outcome = await devInvoke(join("dist", "functions", "openapi"), {});
    expect(outcome.kind).toBe("init-error");
    expect(outcome.body).toContain("argument must be of type string. Received undefined"); // no index.* at the doubled path
  });
});
