/**
 * The local runtime's commands as a user runs them: `npm start` (the whole
 * workflow against it, then a clean stop), `npm run token`, `npm run invoke`.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LocalDefaults, verifyToken } from "@align-onboarding/local";
import { afterAll, describe, expect, it } from "vitest";
import { closedPort } from "./support/receiver.js";
import { startTestStack } from "./support/stack.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function waitFor(child: ChildProcess, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}":\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(text)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before "${text}":\n${output}`));
    });
  });
}

/**
 * Signals npm's process group, as a terminal's Ctrl-C does. npm re-raises the
 * signal on itself after its child exits, so success is the stack's own
 * "stopping" line with no error, and (checked by the caller) ports and data
 * released for a restart.
 */
async function stop(child: ChildProcess, signal: "SIGINT" | "SIGTERM") {
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // "close", not "exit": only then has everything the process wrote been read.
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    child.once("close", (code, killedBy) => resolve([code, killedBy])),
  );
  process.kill(-(child.pid ?? 0), signal);
  const [code, killedBy] = await exited;
  expect(code === 0 || killedBy === signal).toBe(true);
  expect(output).toContain(`${signal}: stopping`);
  expect(output).not.toMatch(/error/i);
}

describe("npm start", () => {
  it("serves the seed's complete workflow, keeps data in DATA_DIR, and stops cleanly on SIGTERM", async () => {
    const [port, alignPort, dynamoPort] = [await closedPort(), await closedPort(), await closedPort()];
    const dataDir = mkdtempSync(`${tmpdir()}/align-onboarding-start-`);
    const startEnv = {
      ...process.env,
      PORT: String(port),
      ALIGN_SANDBOX_PORT: String(alignPort),
      DYNAMODB_PORT: String(dynamoPort),
      DATA_DIR: dataDir,
      KYC_REFRESH_AFTER_SECONDS: "0",
      ALIGN_API_KEY: "",
    };
    const child = spawn("npm", ["start"], {
      cwd: root,
      env: startEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.push(child);
    const banner = await waitFor(child, "Ctrl-C stops everything", 30_000);
    const token = /export TOKEN=(\S+)/.exec(banner)?.[1];
    expect(token).toBeDefined();
    expect(banner).toContain(`http://127.0.0.1:${port}`);

    const api = async (method: string, path: string, body?: unknown) => {
      const init: RequestInit = {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": `${method}${path}`,
        },
      };
      if (body !== undefined) init.body = JSON.stringify(body);
      const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    const created = await api("POST", "/customers", {
      email: "alice@example.com",
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
    });
    expect(created.status).toBe(201);
    const id = created.json.customer_id as string;
    expect((await api("POST", `/customers/${id}/kyc-sessions`, {})).status).toBe(201);
    expect((await api("POST", `/sandbox/customers/${id}/simulate`, { action: "kyc.status.approve" })).status).toBe(200);
    const read = await api("GET", `/customers/${id}`);
    expect(read.json.kycs).toMatchObject({ status: "approved" });

    await stop(child, "SIGTERM");

    // Data survives a restart: the customer reads back from the same DATA_DIR.
    const again = spawn("npm", ["start"], {
      cwd: root,
      env: startEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.push(again);
    await waitFor(again, "Ctrl-C stops everything", 30_000);
    const reread = await api("GET", `/customers/${id}`);
    expect(reread.status).toBe(200);
    expect(reread.json.kycs).toMatchObject({ status: "approved" });
    await stop(again, "SIGINT");
  }, 90_000);
});

describe("npm run token", () => {
  it("prints a token for the subject and nothing else", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "token", "--", "someone"], { cwd: root });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const claims = verifyToken(LocalDefaults.jwt, lines[0] ?? "");
    expect(claims.sub).toBe("someone");
  });

  it("explains its usage without a subject", async () => {
    const error = (await run("npm", ["run", "--silent", "token"], { cwd: root }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(error.code).toBe(2);
    expect(error.stderr).toContain("usage");
  });
});

describe("npm run invoke", () => {
  it("invokes one function with its sample event against a running stack", async () => {
    const t = await startTestStack();
    try {
      const { stdout } = await run("npm", ["run", "--silent", "invoke", "--", "create-customer"], {
        cwd: root,
        env: {
          ...process.env,
          ...t.functionEnv(),
        },
      });
      const result = JSON.parse(stdout) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(201);
      const customer = JSON.parse(result.body) as { customer_id: string };
      const records = await t.items("CUSTOMER");
      expect(records.map((record) => [record.customer_id, record.owner])).toEqual([[customer.customer_id, "dev-user"]]);
    } finally {
      await t.close();
    }
  });

  it("says in one line when the stack is not running", async () => {
    const port = await closedPort();
    const error = (await run("npm", ["run", "--silent", "invoke", "--", "get-customer"], {
      cwd: root,
      env: { ...process.env, DYNAMODB_ENDPOINT: `http://127.0.0.1:${port}` },
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(1);
    expect(error.stderr.trim().split("\n")).toEqual([
      `DynamoDB is not reachable at http://127.0.0.1:${port}: start the stack with \`npm start\` first (or set DYNAMODB_ENDPOINT).`,
    ]);
  });

  it("lists the functions for an unknown name", async () => {
    const error = (await run("npm", ["run", "--silent", "invoke", "--", "nope"], { cwd: root }).catch(
      (e: unknown) => e,
    )) as {
      code: number;
      stderr: string;
    };
    expect(error.code).toBe(1);
    expect(error.stderr).toContain("create-customer, get-customer, start-kyc, sandbox-simulate");
  });
});
