import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type Summary, summarize } from "./stats.js";

const run = promisify(execFile);

export interface ColdTarget {
  name: string;
  file: string;
  /** A fresh event per run (a create needs a new key and email). */
  event: (run: number) => unknown;
  /** What production answers ("report" for the sandbox reset's summary); anything else fails the bench. */
  expect: string;
}

export interface ColdResult {
  name: string;
  importMs: Summary;
  firstInvocationMs: Summary;
  totalMs: Summary;
  statuses: string[];
}

/** One fresh Node process: import the bundle, then invoke it once, timing both from inside. */
async function once(target: ColdTarget, runIndex: number, env: Record<string, string>) {
  const script = `const t0 = performance.now();
    const { handler } = await import(${JSON.stringify(target.file)});
    const t1 = performance.now();
    const deadline = Date.now() + 20000;
    const result = await handler(JSON.parse(process.env.EVENT), { awsRequestId: "cold", functionName: "bench", getRemainingTimeInMillis: () => deadline - Date.now() });
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, status: String(result?.statusCode ?? (result?.complete === undefined ? "?" : "report")) }));`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...env, EVENT: JSON.stringify(target.event(runIndex)) },
  });
  // The measurement is the last line (the function may print metric lines before it).
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { importMs: number; firstMs: number; status: string };
}

/** `runs` rounds; each round runs every target once, so targets are interleaved in time. */
export async function measureColdStarts(
  targets: ColdTarget[],
  runs: number,
  env: Record<string, string>,
  progress: (line: string) => void,
) {
  const samples = new Map(
    targets.map((t) => [
      t.name,
      { imports: [] as number[], firsts: [] as number[], totals: [] as number[], statuses: [] as string[] },
    ]),
  );
  for (let round = 0; round < runs; round++) {
    for (const target of targets) {
      const sample = await once(target, round, env);
      const entry = samples.get(target.name);
      entry?.imports.push(sample.importMs);
      entry?.firsts.push(sample.firstMs);
      entry?.totals.push(sample.importMs + sample.firstMs);
      entry?.statuses.push(sample.status);
    }
    if ((round + 1) % 5 === 0) progress(`  cold start: ${round + 1}/${runs} rounds`);
  }
  return targets.map((target): ColdResult => {
    const entry = samples.get(target.name);
    return {
      name: target.name,
      importMs: summarize(entry?.imports ?? []),
      firstInvocationMs: summarize(entry?.firsts ?? []),
      totalMs: summarize(entry?.totals ?? []),
      statuses: [...new Set(entry?.statuses ?? [])],
    };
  });
}
