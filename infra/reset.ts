/**
 * The nightly sandbox reset must not fail unseen. EventBridge Scheduler
 * invokes Lambda asynchronously, so two layers retry: the schedule retries a
 * delivery Lambda refused (throttled, unavailable), and Lambda retries a run
 * that failed, or that stopped before the end (the schedule's event asks the
 * function to fail then; each run continues where the last one stopped).
 * What still fails lands in one SQS queue, and an alarm watches that queue
 * (infra/alarms.ts). Import-free and generic over the ARN type.
 */

export const ResetReliability = {
  /** Lambda's own retries of a failed asynchronous run (its maximum is 2), a minute, then two, apart. */
  functionRetries: 2,
  /** The schedule's retries of a delivery Lambda refused. */
  deliveryRetries: 3,
  /** A run not started within six hours is dropped to the failure queue: the next night starts anyway. */
  maxEventAgeSeconds: 6 * 60 * 60,
  /** SQS's longest retention: the failed event waits two weeks for someone to read it. */
  failureRetentionSeconds: 14 * 24 * 60 * 60,
  /** What the schedule sends: a run that stops before the end fails, so Lambda runs it again. */
  event: { failIfIncomplete: true },
} as const;

/** The sandbox-reset `sst.aws.Function`'s extra arguments: retries, a failure destination, and leave to send there. */
export function resetFunctionArgs<T>(failureQueueArn: T) {
  return {
    retries: ResetReliability.functionRetries,
    permissions: [{ actions: ["sqs:SendMessage"], resources: [failureQueueArn] }],
    eventInvokeConfig: {
      maximumRetryAttempts: ResetReliability.functionRetries,
      maximumEventAgeInSeconds: ResetReliability.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: failureQueueArn } },
    },
  };
}

/** The `sst.aws.CronV2` arguments besides the function: when, the event, the delivery retries and dead-letter queue. */
export function resetScheduleArgs<T, S extends string>(failureQueueArn: T, schedule: S) {
  return {
    schedule,
    event: { ...ResetReliability.event },
    retries: ResetReliability.deliveryRetries,
    dlq: failureQueueArn,
  };
}
