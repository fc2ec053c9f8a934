/**
 * The "typical" reference peer for `npm run bench` (dev-only, never shipped): the same
 * create-customer behaviour built the usual way, with Powertools Idempotency
 * (DynamoDB persistence layer), Powertools Logger, Middy, `import { z } from "zod"`
 * and a DocumentClient, as much code in the wild is written. It shares
 * the table, the Align client and the emulator with ours.
 */
import Align from "@align-onboarding/align";
import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { makeHandlerIdempotent } from "@aws-lambda-powertools/idempotency/middleware";
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { z } from "zod";

const tableName = process.env.TABLE_NAME ?? "";
const logger = new Logger({ serviceName: "peer-create-customer" });
export const dynamo = new DynamoDBClient({
  region: process.env.AWS_REGION ?? "us-east-1",
  ...(process.env.DYNAMODB_ENDPOINT
    ? { endpoint: process.env.DYNAMODB_ENDPOINT, credentials: { accessKeyId: "local", secretAccessKey: "local" } }
    : {}),
});
const documents = DynamoDBDocumentClient.from(dynamo);
const persistenceStore = new DynamoDBPersistenceLayer({
  tableName,
  keyAttr: "pk",
  sortKeyAttr: "sk",
  staticPkValue: "PEER_IDEMPOTENCY",
  awsSdkV3Client: dynamo,
});
const config = new IdempotencyConfig({
  eventKeyJmesPath: '[requestContext.authorizer.jwt.claims.sub, headers."idempotency-key"]',
  payloadValidationJmesPath: "body",
  expiresAfterSeconds: 24 * 60 * 60,
});
export const align = new Align({
  apiKey: process.env.ALIGN_API_KEY ?? "",
  ...(process.env.ALIGN_BASE_URL ? { baseUrl: process.env.ALIGN_BASE_URL } : {}),
});

const BodySchema = z
  .object({
    email: z.string().email(),
    type: z.enum(["individual", "corporate"]),
    first_name: z.string().min(1).optional(),
    last_name: z.string().min(1).optional(),
    company_name: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.type === "individual" && (!body.first_name || !body.last_name)) {
      ctx.addIssue({ code: "custom", path: ["first_name"], message: "Names are required for individuals" });
    }
    if (body.type === "corporate" && !body.company_name) {
      ctx.addIssue({ code: "custom", path: ["company_name"], message: "company_name is required" });
    }
  });

const createCustomer = async (event: APIGatewayProxyEventV2WithJWTAuthorizer) => {
  const owner = String(event.requestContext.authorizer.jwt.claims.sub);
  const parsed = BodySchema.safeParse(JSON.parse(event.body ?? "{}"));
  if (!parsed.success) {
    return { statusCode: 400, body: JSON.stringify({ errors: parsed.error.issues }) };
  }
  const customer = await align.customers.create(parsed.data as Parameters<typeof align.customers.create>[0]);
  const createdAt = new Date().toISOString();
  await documents.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        pk: `CUSTOMER#${customer.customer_id}`,
        sk: "CUSTOMER",
        gsi1pk: `OWNER#${owner}`,
        gsi1sk: `${createdAt}#${customer.customer_id}`,
        customer_id: customer.customer_id,
        owner,
        data: JSON.stringify(customer),
        created_at: createdAt,
        version: 1,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  logger.info("customer created", { customerId: customer.customer_id });
  return { statusCode: 201, headers: { "content-type": "application/json" }, body: JSON.stringify(customer) };
};

export const handler = middy(createCustomer)
  .use(injectLambdaContext(logger))
  .use(makeHandlerIdempotent({ persistenceStore, config }));
