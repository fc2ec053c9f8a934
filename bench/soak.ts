/**
 * `npm run soak`: drives the local stack (API Gateway emulator, handlers,
 * dynalite, Align emulator, webhooks) over loopback with mixed traffic for a
 * bounded time, then reports requests, errors by status, latency percentiles
 * and memory. Exits 1 on any unexpected answer or unbounded memory growth.
 *
 *   SOAK_SECONDS (60)  SOAK_CONCURRENCY (16)
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { signPayload } from "@align-onboarding/align";
import { setLogSink } from "@align-onboarding/core";
import { startLocalStack } from "@align-onboarding/local";

const seconds = Number(process.env.SOAK_SECONDS ?? 60);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 16);
if (!(seconds > 0 && seconds <= 3600) || !(concurrency > 0 && concurrency <= 256)) {
  console.error("SOAK_SECONDS must be 1..3600 and SOAK_CONCURRENCY 1..256");
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

// The functions log every request; count lines rather than print them.
let logLines = 0;
setLogSink(() => {
  logLines += 1;
});

const dataDir = mkdtempSync(`${tmpdir()}/align-onboarding-soak-`);
const stack = await startLocalStack({
  ...(process.env.SOAK_IN_MEMORY ? {} : { dataDir }),
  sandboxWebhooks: { baseDelayMs: 50, maxAttempts: 3 },
});
const token = stack.token("soak-user");
console.log(`soak: ${seconds} s, ${concurrency} clients, against ${stack.apiUrl} (loopback only)`);

type Op = "create" | "replay" | "kyc" | "simulate" | "read" | "list" | "webhook";
const expected: Record<Op, number[]> = {
  create: [201],
  replay: [201, 409], // 409 only as idempotency_key_in_use, checked below
  kyc: [201],
  simulate: [200],
  read: [200],
  list: [200],
  webhook: [200, 409], // 409 only as delivery_in_progress
};
const weights: [Op, number][] = [
  ["create", 20],
  ["replay", 15],
  ["kyc", 10],
  ["simulate", 10],
  ["read", 25],
  ["list", 10],
  ["webhook", 10],
];
const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
const pick = (): Op => {
  let roll = Math.random() * total;
  for (const [op, weight] of weights) {
    roll -= weight;
    if (roll < 0) return op;
  }
  return "read";
};

interface Created {
  id: string;
  key: string;
  body: string;
}
const created: Created[] = [];
const latencies = new Map<Op, number[]>();
const statuses = new Map<string, number>();
const unexpected: string[] = [];

async function call(method: string, path: string, headers: Record<string, string>, body?: string) {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
  if (body !== undefined) init.body = body;
  const response = await fetch(`${stack.apiUrl}${path}`, init);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function run(op: Op): Promise<{ status: number; json: Record<string, unknown> } | undefined> {
  const json = { "content-type": "application/json" };
  const some = created[Math.floor(Math.random() * created.length)];
  if (op !== "create" && op !== "list" && !some) return undefined;
  switch (op) {
    case "create": {
      const key = randomUUID();
      const body = JSON.stringify({
        email: `soak-${key}@example.com`,
        type: "individual",
        first_name: "S",
        last_name: "K",
      });
      const answer = await call("POST", "/customers", { ...json, "idempotency-key": key }, body);
      if (answer.status === 201) created.push({ id: answer.json.customer_id as string, key, body });
      return answer;
    }
    case "replay":
      return call("POST", "/customers", { ...json, "idempotency-key": some?.key ?? "" }, some?.body);
    case "kyc":
      return call("POST", `/customers/${some?.id}/kyc-sessions`, { "idempotency-key": randomUUID() });
    case "simulate":
      return call(
        "POST",
        `/sandbox/customers/${some?.id}/simulate`,
        { ...json, "idempotency-key": randomUUID() },
        '{"action":"kyc.status.approve"}',
      );
    case "read":
      return call("GET", `/customers/${some?.id}`, {});
    case "list":
      return call("GET", "/customers?limit=20", {});
    case "webhook": {
      const body = JSON.stringify({
        event_type: "customer.kycs.updated",
        entity_id: some?.id,
        entity_type: "customer",
        created_at: new Date(Date.now() - 60_000).toISOString(),
      });
      const response = await fetch(`${stack.apiUrl}/webhooks/align`, {
        method: "POST",
        headers: { ...json, "x-hmac-signature": signPayload(body, "sandbox-key") },
        body,
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    }
  }
}

const started = performance.now();
const deadline = started + seconds * 1000;
const memory: { at: number; heapMb: number }[] = [{ at: 0, heapMb: heapMb() }];
const rssStart = process.memoryUsage().rss / 2 ** 20;
const sampler = setInterval(() => memory.push({ at: (performance.now() - started) / 1000, heapMb: heapMb() }), 5_000);
const progress = setInterval(() => {
  const done = [...latencies.values()].reduce((sum, list) => sum + list.length, 0);
  console.log(
    `  ${Math.round((performance.now() - started) / 1000)} s: ${done} requests, ${unexpected.length} unexpected`,
  );
}, 10_000);

async function client(): Promise<void> {
  while (performance.now() < deadline) {
    const op = pick();
    const begin = performance.now();
    let answer: Awaited<ReturnType<typeof run>>;
    try {
      answer = await run(op);
    } catch (error) {
      unexpected.push(`${op}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (!answer) continue;
    const list = latencies.get(op) ?? [];
    list.push(performance.now() - begin);
    latencies.set(op, list);
    statuses.set(`${op} ${answer.status}`, (statuses.get(`${op} ${answer.status}`) ?? 0) + 1);
    const code = answer.json.code;
    const fine =
      expected[op].includes(answer.status) &&
      (answer.status !== 409 || code === "idempotency_key_in_use" || code === "delivery_in_progress");
    if (!fine) unexpected.push(`${op} -> ${answer.status} ${String(code ?? "")}`);
  }
}

await Promise.all(Array.from({ length: concurrency }, client));
clearInterval(sampler);
clearInterval(progress);
await stack.sandbox?.deliveriesSettled();
const elapsed = (performance.now() - started) / 1000;
memory.push({ at: elapsed, heapMb: heapMb() });
const rssEnd = process.memoryUsage().rss / 2 ** 20;
await stack.close();
rmSync(dataDir, { recursive: true, force: true });

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const all = [...latencies.values()].flat().sort((a, b) => a - b);
const row = (name: string, list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return `| ${name} | ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 90).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${(sorted.at(-1) ?? 0).toFixed(1)} |`;
};

// Memory: the heap after GC at the end against the first sample past warm-up (20% in).
const warm = memory.find((sample) => sample.at >= elapsed * 0.2) ?? memory[0];
const end = memory.at(-1);
const growthMb = (end?.heapMb ?? 0) - (warm?.heapMb ?? 0);
const unbounded = growthMb > 64 && (end?.heapMb ?? 0) > 2 * (warm?.heapMb ?? 0);

console.log(`
## Soak report

${all.length} requests in ${elapsed.toFixed(1)} s (${(all.length / elapsed).toFixed(0)}/s), ${concurrency} clients, ${logLines} function log lines

| op | requests | p50 ms | p90 ms | p99 ms | max ms |
|---|---|---|---|---|---|
${[...latencies.entries()].map(([op, list]) => row(op, list)).join("\n")}
${row("all", all)}

Answers by status: ${[...statuses.entries()]
  .sort()
  .map(([key, count]) => `${key}: ${count}`)
  .join(", ")}
Unexpected: ${unexpected.length}${unexpected.length ? ` (first: ${unexpected.slice(0, 5).join("; ")})` : ""}
Memory: heap after GC ${memory[0]?.heapMb.toFixed(1)} MB at start, ${warm?.heapMb.toFixed(1)} MB after warm-up, ${end?.heapMb.toFixed(1)} MB at the end (${growthMb >= 0 ? "+" : ""}${growthMb.toFixed(1)} MB); RSS ${rssStart.toFixed(0)} -> ${rssEnd.toFixed(0)} MB${gc ? "" : " (no --expose-gc: heap figures include garbage)"}
Customers created: ${created.length} (the in-process dynalite and emulator hold them; some growth is data, not a leak)
`);
if (unexpected.length > 0 || unbounded) {
  console.error(unexpected.length > 0 ? "FAIL: unexpected answers" : "FAIL: memory grew without bound");
  process.exit(1);
}
console.log("PASS");
process.exit(0);
