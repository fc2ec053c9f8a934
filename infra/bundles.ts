/**
 * What `npm run build` leaves in dist/functions/ and how a deploy proves it is
 * current: the build writes `manifest.json` with a content hash of every input
 * of every bundle (sources, the node_modules files esbuild read, the build
 * script, the lockfile) and of each output; `sst.config.ts` recomputes both
 * before creating anything and refuses a missing, stale or altered bundle.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, for the build and tests. sst.config.ts passes `$cli.paths.root`
 * instead: SST runs the config bundled under .sst/, where this module's URL points elsewhere.
 */
export const defaultRoot = () => fileURLToPath(new URL("../", import.meta.url));

/** Files that change a bundle without being one of esbuild's inputs. */
export const BUILD_INPUTS = ["packages/local/src/build-functions.ts", "package-lock.json"] as const;

export const MANIFEST_FILE = "manifest.json";

export interface BundleManifestEntry {
  /** Input files, relative to the root (esbuild's metafile inputs plus {@link BUILD_INPUTS}). */
  inputs: string[];
  /** sha256 over every input's path and content. */
  inputs_sha256: string;
  /** sha256 of the bundle's index.mjs. */
  output_sha256: string;
}
export type BundleManifest = Record<string, BundleManifestEntry>;

/** A bundle that must not be deployed; the message is one line. */
export class StaleBundleError extends Error {
  override name = "StaleBundleError";
}

/**
 * The absolute folder SST ships as a function's code. Absolute because SST
 * resolves a relative `bundle` against the folder `sst` runs in, and its dev
 * worker, started inside the bundle folder, would resolve it a second time.
 */
export function bundleDir(name: string, distDir = join(defaultRoot(), "dist", "functions")): string {
  const dir = join(distDir, name);
  if (!isAbsolute(dir)) throw new StaleBundleError(`bundle folder ${dir} is not absolute`);
  return dir;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** The hash of a list of input files (relative to `root`); a missing file hashes as missing. */
export function hashInputs(inputs: readonly string[], root = defaultRoot()): string {
  const hash = createHash("sha256");
  for (const input of [...new Set(inputs)].sort()) {
    const file = join(root, input);
    hash.update(`${input}\0${existsSync(file) ? sha256(readFileSync(file)) : "missing"}\n`);
  }
  return hash.digest("hex");
}

/** The manifest entry for a bundle just built from `esbuildInputs` (metafile keys, relative to `root`). */
export function manifestEntry(
  esbuildInputs: readonly string[],
  output: Buffer,
  root = defaultRoot(),
): BundleManifestEntry {
  // esbuild names virtual inputs with a namespace prefix ("<define:...>"); only files can change.
  const inputs = [...new Set([...esbuildInputs.filter((input) => !input.includes(":")), ...BUILD_INPUTS])].sort();
  return { inputs, inputs_sha256: hashInputs(inputs, root), output_sha256: sha256(output) };
}

/**
 * Checks that every named function has a bundle built from the current
 * sources and unchanged since.
 *
 * @throws {StaleBundleError} naming the first function whose bundle is missing, stale or altered.
 */
export function verifyBundles(
  names: readonly string[],
  { root = defaultRoot(), distDir = join(root, "dist", "functions") }: { root?: string; distDir?: string } = {},
): void {
  const fix = "run `npm run build` (or deploy with `npm run deploy`, which builds first)";
  const manifestPath = join(distDir, MANIFEST_FILE);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as BundleManifest;
  } catch (error) {
    throw new StaleBundleError(`No bundles to deploy (${manifestPath} is missing or unreadable): ${fix}`, {
      cause: error,
    });
  }
  for (const name of names) {
    const entry = manifest[name];
    const file = join(bundleDir(name, distDir), "index.mjs");
    if (!entry || !existsSync(file)) throw new StaleBundleError(`The bundle of ${name} is missing: ${fix}`);
    if (hashInputs(entry.inputs, root) !== entry.inputs_sha256) {
      throw new StaleBundleError(`The bundle of ${name} was not built from the current sources: ${fix}`);
    }
    if (sha256(readFileSync(file)) !== entry.output_sha256) {
      throw new StaleBundleError(`The bundle of ${name} was changed after it was built: ${fix}`);
    }
  }
}
