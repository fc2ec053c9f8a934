/**
 * Issue 13, item 9: the emulator answers a mutating request only once its
 * change is on disk. A child process runs the emulator on a data file; a
 * burst of creates is cut by kill -9; a restart on the same file must hold
 * every customer whose create was acknowledged.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startAlignSandbox } from "../src/index.js";

const KEY = "durability-key";
const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

/** Starts the emulator's CLI in a child process on `dataFile`; resolves with its URL. */
function startChild(dataFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli], {
    cwd: root,
    env: { ...process.env, ALIGN_SANDBOX_PORT: "0", ALIGN_SANDBOX_KEY: KEY, ALIGN_SANDBOX_DATA_FILE: dataFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        child.stdout?.off("data", onData);
        // Keep draining so a full pipe never blocks the child.
        child.stdout?.resume();
        resolve({ child, url: match[1] });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`emulator exited (${code}) before listening: ${output}`)));
  });
}

const create = (url: string, email: string) =>
  fetch(`${url}/v0/customers`, {
    method: "POST",
    headers: { authorization: KEY, "content-type": "application/json" },
    body: JSON.stringify({ email, type: "individual", first_name: "Crash", last_name: "Test" }),
  });

describe("durability", () => {
  it("kill -9 mid-burst: every acknowledged customer is there after a restart on the same file", async () => {
    const dataFile = join(mkdtempSync(join(tmpdir(), "align-sandbox-crash-")), "state.json");
    const first = await startChild(dataFile);
    const acknowledged = new Map<string, string>();
    let sent = 0;
    let killed = false;
    const worker = async (lane: number) => {
      for (let i = 0; i < 200 && !killed; i++) {
        const email = `crash-${lane}-${i}@example.com`;
        sent += 1;
        try {
          const response = await create(first.url, email);
          if (response.status !== 200) throw new Error(`unexpected ${response.status}`);
          const body = (await response.json()) as { customer_id: string };
          acknowledged.set(email, body.customer_id);
          if (acknowledged.size >= 150 && !killed) {
            killed = true;
            first.child.kill("SIGKILL");
          }
        } catch (error) {
          if (!killed) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, lane) => worker(lane)));
    expect(killed).toBe(true);
    if (first.child.exitCode === null && first.child.signalCode === null) {
      await new Promise((resolve) => first.child.once("exit", resolve));
    }
    expect(first.child.signalCode).toBe("SIGKILL");
    expect(sent).toBeGreaterThanOrEqual(acknowledged.size);

    const second = await startChild(dataFile);
    for (const [email, id] of acknowledged) {
      const read = await fetch(`${second.url}/v0/customers/${id}`, { headers: { authorization: KEY } });
      expect([email, read.status]).toEqual([email, 200]);
      expect(((await read.json()) as { email: string }).email).toBe(email);
    }
    // Unacknowledged creates may or may not have landed, but never twice.
    const { items } = (await (
      await fetch(`${second.url}/v0/customers`, { headers: { authorization: KEY } })
    ).json()) as {
      items: { email: string }[];
    };
    expect(items.length).toBeGreaterThanOrEqual(acknowledged.size);
    expect(new Set(items.map((item) => item.email)).size).toBe(items.length);
    second.child.kill("SIGTERM");
  }, 30_000);

  it("a torn last journal line (a write cut short) is dropped and appends continue cleanly", async () => {
    const dataFile = join(mkdtempSync(join(tmpdir(), "align-sandbox-torn-")), "state.json");
    const sandbox = await startAlignSandbox({ apiKey: KEY, dataFile });
    await create(sandbox.url, "kept@example.com");
    await sandbox.close();
    const { appendFileSync } = await import("node:fs");
    appendFileSync(`${dataFile}.journal`, '{"op":"customer","customer":{"customer_id":"torn');

    const restarted = await startAlignSandbox({ apiKey: KEY, dataFile });
    expect(restarted.state().customers.map((customer) => customer.email)).toEqual(["kept@example.com"]);
    await create(restarted.url, "after@example.com");
    await restarted.close();
    const lines = readFileSync(`${dataFile}.journal`, "utf8").trimEnd().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { op: string }).op)).toEqual(["customer", "customer"]);

    const again = await startAlignSandbox({ apiKey: KEY, dataFile });
    expect(again.state().customers.map((customer) => customer.email)).toEqual([
      "kept@example.com",
      "after@example.com",
    ]);
    await again.close();
  });

  it("compaction snapshots the state and empties the journal; reset is durable too", async () => {
    const dataFile = join(mkdtempSync(join(tmpdir(), "align-sandbox-compact-")), "state.json");
    const sandbox = await startAlignSandbox({ apiKey: KEY, dataFile, journalCompactAfter: 4 });
    for (let i = 0; i < 5; i++) await create(sandbox.url, `c${i}@example.com`);
    // Compacted after the fourth: the snapshot holds four, the journal one.
    expect(readFileSync(`${dataFile}.journal`, "utf8").trimEnd().split("\n")).toHaveLength(1);
    expect((JSON.parse(readFileSync(dataFile, "utf8")) as { customers: unknown[] }).customers).toHaveLength(4);
    await fetch(`${sandbox.url}/_emulator/reset`, { method: "POST" });
    await create(sandbox.url, "survivor@example.com");
    await sandbox.close();
    const restarted = await startAlignSandbox({ apiKey: KEY, dataFile });
    expect(restarted.state().customers.map((customer) => customer.email)).toEqual(["survivor@example.com"]);
    await restarted.close();
  });
});
