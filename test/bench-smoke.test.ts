/**
 * `npm run bench` keeps working: a tiny run (1 cold round, 10 warm invocations,
 * 1 s of load) into a temporary folder. The numbers are not checked here (speed
 * targets live in the benchmark); that every section is measured and reported is.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("npm run bench", () => {
  it("measures every section and reports every target", async () => {
    const out = mkdtempSync(`${tmpdir()}/bench-smoke-`);
    const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "bench"], {
      cwd: root,
      env: { ...process.env, BENCH_COLD_RUNS: "1", BENCH_WARM_RUNS: "10", BENCH_SECONDS: "1", BENCH_OUT_DIR: out },
      timeout: 120_000,
    });
    const results = JSON.parse(readFileSync(`${out}/results.json`, "utf8"));
    expect(results.targets).toHaveLength(15);
    expect(stdout.match(/^(MET|NOT MET) /gm)).toHaveLength(15);
    const names = results.sizes.map((s: { name: string }) => s.name);
    expect(names).toEqual(expect.arrayContaining(["peer, strongest", "peer, typical", "SDK floor"]));
    expect(results.cold.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(names));
    // Real work only: the bench exits non-zero (execFile throws) when a target answers otherwise.
    expect(results.targets.at(-1)).toMatchObject({ value: "all did", met: true });
    const tables = results.warm.map((w: { table: string }) => w.table);
    expect(tables).toContain("dynalite");
    for (const warm of results.warm) {
      expect(Object.keys(warm.rows)).toEqual(
        expect.arrayContaining(["create (ours)", "replay", "GET", "list", "KYC start", "simulate", "webhook"]),
      );
      expect(warm.rows["create (ours)"].calls).toEqual({ "PutItem, PutItem, UpdateItem": 10 });
    }
    expect(results.throughput.creates).toBeGreaterThan(0);
    expect(readFileSync(`${out}/results.md`, "utf8")).toContain("## Targets");
  }, 150_000);
});
