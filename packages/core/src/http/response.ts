import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { ProblemError } from "./problem.js";

/** What every handler returns: an API Gateway v2 result with a JSON body. */
export type ApiResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
};

/** A JSON answer. */
export function jsonResult(
  requestId: string,
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): ApiResult {
  return {
    statusCode,
    headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
    body: JSON.stringify(body),
  };
}

/** A problem+json answer (RFC 9457), with `Retry-After` where retrying can help. */
export function problemResult(problem: ProblemError, requestId: string): ApiResult {
  return {
    statusCode: problem.status,
    headers: {
      "content-type": "application/problem+json",
      "x-request-id": requestId,
      ...(problem.retryAfter === undefined ? {} : { "retry-after": String(problem.retryAfter) }),
      ...(problem.status === 401 ? { "www-authenticate": "Bearer" } : {}),
    },
    body: JSON.stringify(problem.toBody(requestId)),
  };
}
