import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import { FunctionName } from "../../../functions/routes.js";
import { type BundleManifest, MANIFEST_FILE, manifestEntry } from "../../../infra/bundles.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Environment-only credentials: all Lambda ever needs (see shims/lambda-credentials.ts). */
export const LAMBDA_CREDENTIALS = fileURLToPath(new URL("./shims/lambda-credentials.ts", import.meta.url));

/** What SST's Node runtime adds to every function: CommonJS dependencies may still `require`. */
const REQUIRE_SHIM =
  'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);';

export interface BuiltFunction {
  name: string;
  file: string;
  bytes: number;
  metafile: Metafile;
}

/**
 * Bundles one entry the way SST bundles a Node function: esbuild, ESM,
 * minified, `keepNames`, target node22, platform node, every dependency (the
 * AWS SDK included) inside the bundle. sst.config.ts deploys these very files.
 *
 * `tuned` (the default, what we ship) adds two things SST's defaults lack:
 * the `module` condition, which picks the AWS SDK's ES module builds (its
 * exports list `node` -> CommonJS first, defeating tree shaking), and
 * environment-only credentials. `tuned: false` is SST's default build, used
 * for the benchmark's reference peer.
 */
export async function bundle(entry: string, outfile: string, { tuned = true }: { tuned?: boolean } = {}) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    minify: true,
    keepNames: true,
    metafile: true,
    // Metafile inputs relative to the root, so the deploy can re-hash them (infra/bundles.ts).
    absWorkingDir: root,
    mainFields: ["module", "main"],
    // Workspace packages resolve to their sources, as in tests and `npm start`.
    conditions: tuned ? ["source", "module"] : ["source"],
    banner: { js: REQUIRE_SHIM },
    ...(tuned ? { alias: { "@aws-sdk/credential-provider-node": LAMBDA_CREDENTIALS } } : {}),
    legalComments: "none",
    logLevel: "silent",
  });
}

/**
 * Builds every function to `dist/functions/<name>/index.mjs`, the folder SST
 * deploys as that Lambda's code (`bundle` in sst.config.ts), with the
 * esbuild metafile beside it as `<name>.meta.json`, and `manifest.json`: the
 * content hash of each bundle's inputs and output, which sst.config.ts checks
 * before it deploys (infra/bundles.ts).
 */
export async function buildFunctions(outDir = `${root}dist/functions`): Promise<BuiltFunction[]> {
  const built: BuiltFunction[] = [];
  const manifest: BundleManifest = {};
  await rm(`${outDir}/${MANIFEST_FILE}`, { force: true });
  for (const name of Object.values(FunctionName)) {
    await mkdir(`${outDir}/${name}`, { recursive: true });
    const file = `${outDir}/${name}/index.mjs`;
    const result = await bundle(`${root}functions/${name}.ts`, file);
    await writeFile(`${outDir}/${name}.meta.json`, JSON.stringify(result.metafile));
    const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith(`${name}/index.mjs`));
    built.push({ name, file, bytes: output?.[1].bytes ?? 0, metafile: result.metafile });
    manifest[name] = manifestEntry(Object.keys(result.metafile.inputs), await readFile(file), root);
  }
  // Written last: a build that failed half way leaves no manifest, so nothing stale can deploy.
  await writeFile(`${outDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 1));
  return built;
}
