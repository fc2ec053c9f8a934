import { ProblemError } from "./http/problem.js";
import type { HttpRequest } from "./http/request.js";
import { isWellFormedSubject } from "./text.js";

/** The authenticated caller: the JWT `sub` API Gateway's authorizer verified. */
export interface Caller {
  sub: string;
}

/**
 * The caller of an authenticated route. API Gateway has already checked the
 * token's signature, issuer, audience and expiry, but not `sub`, and it hands
 * claims over as text. A missing, non-string, empty or blank `sub`, one with
 * control characters (CR/LF, bidi controls), a lone surrogate or U+FFFD, or
 * an unreasonably long one is no principal: refused, so no two broken tokens
 * ever share an owner such as "" or "null", and no two subjects one idempotency
 * scope or owner key (both are UTF-8, where every lone surrogate is U+FFFD).
 *
 * @throws {ProblemError} 401 `unauthorized`.
 */
export function requireCaller(request: HttpRequest): Caller {
  const sub = request.claims?.sub;
  if (!isWellFormedSubject(sub) || sub.trim().length === 0) {
    throw new ProblemError("unauthorized");
  }
  return { sub };
}
