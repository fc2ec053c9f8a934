import { ProblemError } from "./http/problem.js";
import type { HttpRequest } from "./http/request.js";

/** The authenticated caller: the JWT `sub` API Gateway's authorizer verified. */
export interface Caller {
  sub: string;
}

/**
 * The caller of an authenticated route. API Gateway has already checked the
 * token's signature, issuer, audience and expiry; a missing `sub` means the
 * route was reached without that check, which is refused.
 *
 * @throws {ProblemError} 401 `unauthorized`.
 */
export function requireCaller(request: HttpRequest): Caller {
  const sub = request.claims?.sub;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 512) throw new ProblemError("unauthorized");
  return { sub };
}
