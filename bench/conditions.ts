/**
 * What dynalite spends on each form of our condition expressions (issue 26 #1):
 * the nested forms begin and observe used before they were flattened, next to
 * the forms used now, timed per conditional write on an in-process dynalite
 * (the tests' and `npm start`'s table), interleaved, medians.
 *
 *   node --conditions=source --import tsx bench/conditions.ts   (CONDITION_RUNS, default 300)
 */
import { randomUUID } from "node:crypto";
import { BEGIN_CONDITION } from "@align-onboarding/core";
import { ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import { ConditionalCheckFailedException, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ms, summarize } from "./stats.js";

const RUNS = Number(process.env.CONDITION_RUNS ?? 300);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/**
 * Each form verbatim, with the values it names. Every write goes to an absent item: the begin forms accept
 * it, the observe forms refuse it (they require the item), each against the baseline with the same outcome.
 */
const forms: Record<string, string> = {
  "baseline, accepted: attribute_not_exists(pk)": "attribute_not_exists(pk)",
  "begin, nested (before fec08f4)":
    "attribute_not_exists(pk) OR expires_at < :now_s OR (fingerprint = :fingerprint AND " +
    "(#state = :open OR (#state = :locked AND lease_expires_at < :now_ms)))",
  "begin, flat (fec08f4 to f7b37fe)":
    "attribute_not_exists(pk) OR expires_at < :now_s OR (fingerprint = :fingerprint AND #state = :open) OR " +
    "(fingerprint = :fingerprint AND #state = :locked AND lease_expires_at < :now_ms)",
  "begin, a new key's lock (now)": BEGIN_CONDITION,
  "baseline, refused: attribute_exists(pk)": "attribute_exists(pk)",
  "observe, nested (before 4ecda0f)":
    "attribute_exists(pk) AND (attribute_not_exists(as_of) OR as_of < :window_start OR " +
    "(as_of <= :window_end AND (kyc_rank < :rank OR (kyc_rank = :rank AND as_of <= :as_of)))) " +
    "AND (attribute_not_exists(last_source) OR last_source <> :source)",
  "observe's one write, flat (now)":
    "kyc_session = :session AND as_of <= :as_of AND kyc_rank <= :rank AND " +
    "(attribute_not_exists(last_source) OR last_source <> :source)",
  "observe's write on the version read (now)": "version = :version",
};
const values = {
  ":now_s": { N: "1800000000" },
  ":now_ms": { N: "1800000000000" },
  ":open": { S: "open" },
  ":locked": { S: "locked" },
  ":fingerprint": { S: "fp" },
  ":window_start": { N: "1" },
  ":window_end": { N: "2" },
  ":rank": { N: "1" },
  ":as_of": { N: "3" },
  ":source": { S: "src" },
  ":session": { S: "s" },
  ":version": { N: "1" },
};
const names = (expression: string) => (expression.includes("#state") ? { "#state": "state" } : undefined);
const used = (expression: string) => {
  const named = Object.entries(values).filter(([key]) => new RegExp(`${key}\\b`).test(expression));
  return named.length === 0 ? undefined : Object.fromEntries(named);
};

const dynamo = await startEmbeddedDynamo();
const TableName = "conditions";
await ensureTable(dynamo.client, TableName);
const samples = new Map(Object.keys(forms).map((name) => [name, [] as number[]]));
for (let round = 0; round < RUNS + 20; round++) {
  for (const [name, expression] of Object.entries(forms)) {
    const command = new PutItemCommand({
      TableName,
      Item: { pk: { S: `C#${randomUUID()}` }, sk: { S: "C" } },
      ConditionExpression: expression,
      ExpressionAttributeNames: names(expression),
      ExpressionAttributeValues: used(expression),
    });
    const t = performance.now();
    await dynamo.client.send(command).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
    if (round >= 20) samples.get(name)?.push(performance.now() - t);
  }
}
await dynamo.close();
const median = (name: string) => summarize(samples.get(name) ?? []).median;
console.log(
  `| condition (dynalite, in process, ${RUNS} writes each, interleaved) | PutItem p50 | p99 | over its baseline |`,
);
console.log("|---|---|---|---|");
let base = 0;
for (const [name, list] of samples) {
  const s = summarize(list);
  if (name.startsWith("baseline")) base = median(name);
  console.log(
    `| ${name} | ${ms(s.median)} | ${ms(s.p99)} | ${name.startsWith("baseline") ? "" : ms(s.median - base)} |`,
  );
}
