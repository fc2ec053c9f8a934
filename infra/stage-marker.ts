/**
 * The marker item that tells the sandbox reset which Align environment a
 * table belongs to. Written when a stage's table is created (sst.config.ts as
 * an `aws.dynamodb.TableItem`; packages/local when it creates the table) and
 * read by packages/core/src/sandbox-reset.ts, which refuses to delete anything
 * unless it says `sandbox`. Import-free so the SST config can load it; core
 * keeps its own copy of the key (it depends on nothing above it), and
 * test/sandbox-reset.test.ts proves the two agree.
 */
export const StageMarker = {
  partition: "STAGE",
  sort: "STAGE",
  attribute: "align_environment",
} as const;

/** The marker as a DynamoDB item (attribute-value JSON, as PutItem and `aws.dynamodb.TableItem` take it). */
export function stageMarkerItem(alignEnvironment: "sandbox" | "production") {
  return {
    pk: { S: StageMarker.partition },
    sk: { S: StageMarker.sort },
    [StageMarker.attribute]: { S: alignEnvironment },
  };
}
