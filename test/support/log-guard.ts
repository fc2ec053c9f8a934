/**
 * Vitest setup file: captures every log line the functions write during a
 * test file, and fails the file if any of them carries a secret or PII: an API
 * key, a webhook or JWT secret, a JWT, an email address, or a test person's name.
 */
import { setLogSink } from "@align-onboarding/core";
import { afterAll, expect } from "vitest";

const lines: string[] = [];
(globalThis as { __alignOnboardingLogs?: string[] }).__alignOnboardingLogs = lines;
setLogSink((line) => lines.push(line));

/** Every secret the tests configure. */
const SECRETS = ["sandbox-key", "rotated-key", "local-dev-secret", "not-the-key"];
/** Every person or company name the test fixtures use. */
const NAMES = /\b(Ada|Lovelace|Alice|Smith|Grace|Hopper|Acme|Sample|Person)\b/;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./;

/** The lines captured so far in this test file. */
export function capturedLogs(): string[] {
  return lines;
}

export function findLeaks(logLines: readonly string[]): string[] {
  return logLines.filter(
    (line) => SECRETS.some((secret) => line.includes(secret)) || NAMES.test(line) || EMAIL.test(line) || JWT.test(line),
  );
}

afterAll(() => {
  expect(findLeaks(lines), "log lines leaking a secret or PII").toEqual([]);
});
