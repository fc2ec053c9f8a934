/**
 * Every shell example of README.md and docs/*.md runs as written, in order,
 * against `npm start`: the fenced ```sh / ```bash blocks of each page are
 * joined into one bash script (`set -euo pipefail`, so a failing command or a
 * refused curl fails the page) and run in a clean shell against a stack started
 * with `npm start`. The one rewrite: the stack listens on free ports, so
 * `127.0.0.1:3000` in a block becomes its port, and PORT, ALIGN_SANDBOX_PORT
 * and DYNAMODB_PORT are set for the scripts that read them (demo, invoke).
 *
 * A block that cannot run on one machine (AWS, a foreground server, an hour
 * of simulation) is preceded by `<!-- shell: skip (reason) -->`: it is
 * skipped, counted and printed, and the reason is required. Loopback only;
 * each page is bounded to 90 s.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The examples use bash, curl and openssl (as a reader's shell has them); without one, the runs skip and say why. */
const missingTools = ["bash", "curl", "openssl"].filter((tool) =>
  (process.env.PATH ?? "").split(":").every((dir) => !existsSync(join(dir, tool))),
);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SKIP = /^<!-- shell: skip \((.+)\) -->$/;

interface ShellBlock {
  file: string;
  line: number;
  code: string;
  /** Why it does not run here, when marked. */
  skip?: string;
}

/** The fenced sh/bash blocks of a Markdown text, in order, with their skip markers. */
function shellBlocks(file: string, text: string): ShellBlock[] {
  const lines = text.split("\n");
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)?/.exec(lines[i] ?? "");
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"));
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    if (open[1] === "sh" || open[1] === "bash") {
      const previous = lines.slice(0, i).findLast((line) => line.trim() !== "") ?? "";
      const marker = /^<!-- shell: skip/.test(previous) ? (SKIP.exec(previous)?.[1] ?? "") : undefined;
      blocks.push({
        file,
        line: i + 1,
        code: lines.slice(i + 1, end).join("\n"),
        ...(marker === undefined ? {} : { skip: marker }),
      });
    }
    i = end;
  }
  return blocks;
}

const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];
const blocks = pages.flatMap((page) => shellBlocks(page, readFileSync(join(ROOT, page), "utf8")));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

let stack: ChildProcess | undefined;
let dataDir = "";
const ports = { api: 0, align: 0, dynamo: 0 };
const portEnv = () => ({
  PORT: String(ports.api),
  ALIGN_SANDBOX_PORT: String(ports.align),
  DYNAMODB_PORT: String(ports.dynamo),
});

beforeAll(async () => {
  if (missingTools.length > 0) {
    console.log(`doc-examples: the shell runs skip: no ${missingTools.join(", ")} on PATH`);
    return;
  }
  ports.api = await freePort();
  ports.align = await freePort();
  ports.dynamo = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), "doc-examples-"));
  // `npm start` as a reader runs it, in its own process group so one signal stops npm, tsx and node.
  stack = spawn("npm", ["start"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...portEnv(), DATA_DIR: dataDir, ALIGN_API_KEY: "", LOG_LEVEL: "error", NODE_OPTIONS: "" },
  });
  const output: string[] = [];
  stack.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  stack.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (stack.exitCode !== null) throw new Error(`npm start exited ${stack.exitCode}: ${output.join("").slice(-2000)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${ports.api}/openapi.json`, { signal: AbortSignal.timeout(2_000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`npm start not ready within 30 s: ${output.join("").slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 40_000);

afterAll(async () => {
  if (stack?.pid !== undefined && stack.exitCode === null) {
    const exited = new Promise((resolve) => stack?.once("exit", resolve));
    process.kill(-stack.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  }
  if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true });
});

describe("shell examples of README.md and docs/*.md", () => {
  it("finds runnable blocks, and every skipped one says why", () => {
    const skipped = blocks.filter((block) => block.skip !== undefined);
    console.log(
      `doc-examples: ${blocks.length - skipped.length} blocks run, ${skipped.length} skipped:\n${skipped
        .map((block) => `  ${block.file}:${block.line} (${block.skip})`)
        .join("\n")}`,
    );
    for (const block of skipped)
      expect([block.file, block.line, block.skip]).toEqual([block.file, block.line, expect.stringMatching(/\w{3,}/)]);
    expect(blocks.filter((block) => block.file === "README.md" && block.skip === undefined).length).toBeGreaterThan(0);
  });

  it("link only inside the repository, to files that exist, and never call the starting document a seed", () => {
    const readmes = ["packages/client", "packages/align", "packages/align-sandbox"].map((dir) => `${dir}/README.md`);
    for (const page of [...pages, ...readmes]) {
      const text = readFileSync(join(ROOT, page), "utf8");
      for (const [, target = ""] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const path = join(ROOT, dirname(page), target.split("#")[0] ?? "");
        expect([page, target, relative(ROOT, path).startsWith("..")]).toEqual([page, target, false]);
        expect([page, target, existsSync(path)]).toEqual([page, target, true]);
      }
      expect([page, text.match(/\.\.\/shared|\bthe seed\b|\bseed(?:'s| SDK| workflow)/i)?.[0]]).toEqual([
        page,
        undefined,
      ]);
    }
  });

  const runnablePages = pages.filter((page) => blocks.some((block) => block.file === page && block.skip === undefined));
  it.each(runnablePages)(
    "%s runs in order against npm start",
    async (page) => {
      const script = [
        "set -euo pipefail",
        ...blocks
          .filter((block) => block.file === page && block.skip === undefined)
          .flatMap((block) => [`echo ">>> ${page}:${block.line}" >&2`, block.code]),
      ]
        .join("\n")
        .replaceAll("127.0.0.1:3000", `127.0.0.1:${ports.api}`);
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          "bash",
          ["-c", script],
          {
            cwd: ROOT,
            timeout: 90_000,
            killSignal: "SIGKILL",
            env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), ...portEnv(), NODE_OPTIONS: "" },
          },
          (error, stdout, stderr) =>
            resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
        child.stdin?.end();
      });
      if (result.code !== 0)
        console.log(`${page} failed:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
      expect(result.code).toBe(0);
    },
    100_000,
  );
});
