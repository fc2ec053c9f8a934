export { type ApiGateway, type GatewayRoute, type LambdaHandler, startApiGateway } from "./api-gateway.js";
export { type BuiltFunction, buildFunctions, bundle } from "./build-functions.js";
export {
  connectDynamo,
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  DynamoDbLocalUnavailableError,
  dynamoDbLocalDir,
  ensureDynamoDbLocalJar,
  javaMissing,
  openDynamoDbLocal,
  startDynamoDbLocal,
} from "./dynamodb-local.js";
export {
  type EmbeddedDynamo,
  ensureStageMarker,
  ensureTable,
  StageMarkerMismatchError,
  startEmbeddedDynamo,
} from "./embedded-dynamo.js";
export { type Claims, claimsForEvent, JwtError, type JwtSettings, signToken, verifyToken } from "./jwt.js";
export { openApiAppDocument, openApiDocument } from "./openapi-file.js";
export { renderApiTypes } from "./openapi-types.js";
export { LocalDefaults, type LocalStack, type LocalStackOptions, startLocalStack } from "./stack.js";
