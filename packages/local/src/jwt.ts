import { createHmac, timingSafeEqual } from "node:crypto";
import { isWellFormedSubject } from "@align-onboarding/core";

/**
 * HS256 JWTs for local runs. In AWS, API Gateway's JWT authorizer verifies
 * tokens from your identity provider; locally this module plays that part with
 * a shared secret, checking what the authorizer documents it checks
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
 * signature, `iss`, `aud` (or `client_id` when there is no `aud`), `exp`
 * after now, `nbf` and `iat` before now. `kid` has no meaning with one local
 * secret, and scopes are not used by our routes.
 *
 * One check is stricter than AWS documents: `sub`, when present, must be a
 * string (RFC 7519 4.1.2: a StringOrURI). API Gateway does not document a
 * check of `sub` and hands every claim to the function as text, so a numeric
 * `sub: 123` would arrive as the principal "123" and `true` as "true",
 * indistinguishable from a real subject. Identity providers (Cognito, Auth0,
 * ...) only issue string subjects, so such a token is a forgery or a bug:
 * locally it is refused with 401 so the mistake shows. So is a string `sub`
 * that cannot name one caller: a lone surrogate (API Gateway hands claims
 * over as UTF-8, where it becomes U+FFFD, so two such subjects would be one),
 * U+FFFD itself, control characters (CR/LF, bidi controls) or over 512
 * characters; the handler refuses the same (packages/core/src/auth.ts). An
 * empty or blank string `sub` passes as in AWS, and the handler refuses it.
 */
export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
}

export type Claims = Record<string, unknown>;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const sign = (input: string, secret: string) => createHmac("sha256", secret).update(input).digest();

/**
 * Signs a token for `sub`, valid for `ttlSeconds`.
 *
 * @example
 * ```ts
 * const token = signToken(settings, "user-123");
 * ```
 */
export function signToken(settings: JwtSettings, sub: string, ttlSeconds = 24 * 60 * 60, extra: Claims = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = encode({ alg: "HS256", typ: "JWT" });
  const payload = encode({
    iss: settings.issuer,
    aud: settings.audience,
    sub,
    iat: now,
    exp: now + ttlSeconds,
    ...extra,
  });
  return `${header}.${payload}.${sign(`${header}.${payload}`, settings.secret).toString("base64url")}`;
}

export class JwtError extends Error {
  override name = "JwtError";
}

function decodePart(part: string): Claims {
  const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new JwtError("not an object");
  return value as Claims;
}

/**
 * Verifies a token as API Gateway's JWT authorizer does and returns its claims.
 *
 * @throws {JwtError} naming what failed (for local diagnostics; never sent to callers).
 */
export function verifyToken(settings: JwtSettings, token: string, nowSeconds = Math.floor(Date.now() / 1000)): Claims {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("malformed token");
  const [header, payload, signature] = parts as [string, string, string];
  let head: Claims;
  let claims: Claims;
  try {
    head = decodePart(header);
    claims = decodePart(payload);
  } catch {
    throw new JwtError("malformed token");
  }
  if (head.alg !== "HS256") throw new JwtError("unsupported algorithm");
  const expected = sign(`${header}.${payload}`, settings.secret);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JwtError("bad signature");
  if (claims.iss !== settings.issuer) throw new JwtError("wrong issuer");
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud ?? claims.client_id];
  if (!audiences.includes(settings.audience)) throw new JwtError("wrong audience");
  if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) throw new JwtError("expired");
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > nowSeconds)) {
    throw new JwtError("not yet valid");
  }
  if (claims.iat !== undefined && (typeof claims.iat !== "number" || claims.iat > nowSeconds)) {
    throw new JwtError("issued in the future");
  }
  if (claims.sub !== undefined && typeof claims.sub !== "string") throw new JwtError("sub is not a string");
  if (claims.sub !== undefined && !isWellFormedSubject(claims.sub)) throw new JwtError("sub is not well-formed");
  return claims;
}

/**
 * Claims as API Gateway passes them to Lambda: every value a string (numbers
 * and booleans as their text, arrays as `[a b]`, objects as JSON). A `null`
 * claim is left out: AWS does not document it, and "null" as text would read
 * as a value.
 */
export function claimsForEvent(claims: Claims): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (value === null || value === undefined) continue;
    if (typeof value === "string") out[name] = value;
    else if (Array.isArray(value)) out[name] = `[${value.join(" ")}]`;
    else out[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}
