/**
 * The one-screen verdict of a contract run: each point the sources contest,
 * as the target answered it, from the contract's report lines
 * (test/contract/align-contract.ts). A point the run did not reach says so.
 */

/** The contested points, in print order: label and the report line's prefix. */
export const VERDICT_POINTS = [
  ["auth form", "auth headers accepted: "],
  ["type field", "customer type field accepted alone: "],
  ["create answer", "create answer: "],
  ["error body", "error body (invalid create): "],
  ["duplicate email", "duplicate email (raw): "],
  ["email filter", "email list filter: "],
  ["email uniqueness", "email uniqueness: "],
  ["second KYC start", "second KYC start: "],
  ["simulate, no session", "simulate without a KYC session: "],
  ["webhook list items", "webhook list item keys: "],
  ["pin", "client learned: "],
] as const;

/**
 * Formats the verdict of one run.
 *
 * @example
 * ```ts
 * formatVerdict(["auth headers accepted: authorization"], { baseUrl: "https://api-sandbox.alignlabs.dev", at: new Date() });
 * // "Align live verdict: https://api-sandbox.alignlabs.dev, 2026-…\n  auth form             authorization\n  type field            (not reached) …"
 * ```
 */
export function formatVerdict(reports: readonly string[], run: { baseUrl: string; at: Date }): string {
  const width = Math.max(...VERDICT_POINTS.map(([label]) => label.length)) + 2;
  const lines = VERDICT_POINTS.map(([label, prefix]) => {
    const line = reports.find((report) => report.startsWith(prefix));
    return `  ${label.padEnd(width)}${line === undefined ? "(not reached)" : line.slice(prefix.length)}`;
  });
  return [`Align live verdict: ${run.baseUrl}, ${run.at.toISOString()}`, ...lines].join("\n");
}
