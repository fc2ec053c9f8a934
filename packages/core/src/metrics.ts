/**
 * Metrics as CloudWatch embedded metric format (EMF) lines: a JSON log line
 * that CloudWatch turns into metrics, with no agent and no API call. Written
 * by hand rather than with Powertools: Powertools Logger alone bundles to 24 KB
 * and adds about 6 ms to a cold import here, and the cold-start target (0.7x
 * the peer) has no such margin; this needs a dozen lines.
 */
export const METRICS_NAMESPACE = "AlignOnboarding";

export const Metric = {
  CustomersCreated: "CustomersCreated",
  KycSessionsStarted: "KycSessionsStarted",
  KycSimulations: "KycSimulations",
  WebhooksAccepted: "WebhooksAccepted",
  WebhooksDuplicate: "WebhooksDuplicate",
  WebhooksRejected: "WebhooksRejected",
  IdempotentReplays: "IdempotentReplays",
  AlignErrors: "AlignErrors",
  SandboxResetDeletions: "SandboxResetDeletions",
} as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

/** The stage when no SST stage is known (`npm start`, tests, scripts). */
export const LOCAL_STAGE = "local";

/**
 * The stage every metric carries, so two stages in one account never add up:
 * SST gives every function `SST_RESOURCE_App` = `{"name","stage"}`.
 */
export function metricsStage(env: Record<string, string | undefined> = process.env): string {
  try {
    const stage = (JSON.parse(env.SST_RESOURCE_App ?? "{}") as { stage?: unknown }).stage;
    return typeof stage === "string" && stage !== "" ? stage : LOCAL_STAGE;
  } catch {
    return LOCAL_STAGE;
  }
}

/**
 * One EMF line: `counts` as Count metrics under `stage` and the given
 * dimensions (strings only, never personal data).
 *
 * @example
 * ```ts
 * write(emfLine({ function: "create-customer" }, { CustomersCreated: 1 }));
 * ```
 */
export function emfLine(
  dimensions: Record<string, string>,
  counts: Partial<Record<Metric, number>>,
  now = Date.now(),
  stage = metricsStage(),
): string {
  const all = { stage, ...dimensions };
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(all)],
          Metrics: Object.keys(counts).map((name) => ({ Name: name, Unit: "Count" })),
        },
      ],
    },
    ...all,
    ...counts,
  });
}
