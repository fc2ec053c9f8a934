/**
 * Debian's Chromium for the browser tests (npm's browser downloads cannot run
 * here): where it is, why a test skips without it, and one way to launch it.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** The first Chromium found (`CHROMIUM_PATH` first), or undefined. */
export const chromiumPath = [
  process.env.CHROMIUM_PATH,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
].find((path): path is string => path !== undefined && path !== "" && existsSync(path));

/** Said by every test that skips for want of it. */
export const NO_CHROMIUM = "no Chromium executable (set CHROMIUM_PATH or `apt-get install chromium`)";

/** Headless, without the sandbox and GPU a container lacks. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    ...(chromiumPath ? { executablePath: chromiumPath } : {}),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}
