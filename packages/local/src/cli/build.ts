/** `npm run build`: every function bundled as SST bundles it, into dist/functions/. */
import { buildFunctions } from "../build-functions.js";

const started = performance.now();
const built = await buildFunctions();
for (const fn of built)
  console.log(`${fn.name.padEnd(18)} ${(fn.bytes / 1024).toFixed(1).padStart(8)} KiB  ${fn.file}`);
console.log(`built ${built.length} functions in ${Math.round(performance.now() - started)} ms`);
