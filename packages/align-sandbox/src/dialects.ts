/**
 * Older or harsher shapes the real Align (or the API Gateway in front of it)
 * may answer with, each opt-in: the defaults keep today's answers, and a test
 * turns one on to prove a client survives it.
 */
import type { Reply } from "./http.js";

/** What `POST /v0/customers` answers. */
export const CreateAnswer = {
  /** `200` and the customer with `kycs: null` (the newer reference; the default). */
  Customer: "customer",
  /**
   * `201` and the customer with `kycs` already `{ status: "pending",
   * kyc_flow_link }` (an older reference shows this): create also opens a KYC
   * session and emits `customer.kycs.updated`.
   */
  WithKycs: "with_kycs",
} as const;
export type CreateAnswer = (typeof CreateAnswer)[keyof typeof CreateAnswer];

/** How a request whose key is not where the profile reads it, or is wrong, is refused. */
export const AuthRefusal = {
  /** `401 {"message":"Invalid API key","code":"unauthorized"}` (the default). */
  Unauthorized: "unauthorized_401",
  /** `403 {"message":"Forbidden","code":"forbidden"}`. */
  Forbidden: "forbidden_403",
  /**
   * API Gateway's own refusal: `403 {"message":"Missing Authentication Token"}`,
   * `x-amzn-errortype: MissingAuthenticationTokenException`, an
   * `x-amzn-requestid` and no `x-request-id`.
   */
  GatewayMissingToken403: "gateway_403",
  /** The same gateway body and headers with status 400. */
  GatewayMissingToken400: "gateway_400",
} as const;
export type AuthRefusal = (typeof AuthRefusal)[keyof typeof AuthRefusal];

/**
 * Per cause: `missing` when the header the profile reads is absent (the key
 * came in another header, or none), `wrong` when it is there with another value.
 */
export interface AuthRefusals {
  missing: AuthRefusal;
  wrong: AuthRefusal;
}

/** The body of a 400 for a malformed or invalid request. */
export const ValidationBody = {
  /** `{ message, code, errors: [{ path, message }] }` (the default). */
  FieldErrors: "field_errors",
  /**
   * Only `{ "message": "..." }`: the field messages joined with `"; "`, e.g.
   * `{"message":"beneficiary_type is required"}`; no `code`, no `errors`.
   */
  MessageOnly: "message_only",
} as const;
export type ValidationBody = (typeof ValidationBody)[keyof typeof ValidationBody];

/** The opt-in shapes one emulator answers with. */
export interface Dialect {
  createAnswer: CreateAnswer;
  authRefusal: AuthRefusals;
  validationBody: ValidationBody;
}

export const DEFAULT_DIALECT: Dialect = {
  createAnswer: CreateAnswer.Customer,
  authRefusal: { missing: AuthRefusal.Unauthorized, wrong: AuthRefusal.Unauthorized },
  validationBody: ValidationBody.FieldErrors,
};

const ALL_CREATE_ANSWERS = new Set<string>(Object.values(CreateAnswer));
const ALL_AUTH_REFUSALS = new Set<string>(Object.values(AuthRefusal));
const ALL_VALIDATION_BODIES = new Set<string>(Object.values(ValidationBody));

/** Checks and completes the dialect options; throws with the option's name when one is unknown. */
export function resolveDialect(options: {
  createAnswer?: CreateAnswer | undefined;
  authRefusal?: AuthRefusal | AuthRefusals | undefined;
  validationBody?: ValidationBody | undefined;
}): Dialect {
  const createAnswer = options.createAnswer ?? DEFAULT_DIALECT.createAnswer;
  if (!ALL_CREATE_ANSWERS.has(createAnswer))
    throw new Error(`startAlignSandbox: unknown createAnswer "${createAnswer}"`);
  const refusal = options.authRefusal ?? DEFAULT_DIALECT.authRefusal;
  const authRefusal = typeof refusal === "string" ? { missing: refusal, wrong: refusal } : { ...refusal };
  for (const value of [authRefusal.missing, authRefusal.wrong]) {
    if (!ALL_AUTH_REFUSALS.has(value)) throw new Error(`startAlignSandbox: unknown authRefusal "${value}"`);
  }
  const validationBody = options.validationBody ?? DEFAULT_DIALECT.validationBody;
  if (!ALL_VALIDATION_BODIES.has(validationBody)) {
    throw new Error(`startAlignSandbox: unknown validationBody "${validationBody}"`);
  }
  return { createAnswer, authRefusal, validationBody };
}

/** The answer to a refused key, in the chosen form. */
export function authRefusalReply(refusal: AuthRefusal, requestId: string): Reply {
  switch (refusal) {
    case AuthRefusal.Unauthorized:
      return { status: 401, body: { message: "Invalid API key", code: "unauthorized" } };
    case AuthRefusal.Forbidden:
      return { status: 403, body: { message: "Forbidden", code: "forbidden" } };
    case AuthRefusal.GatewayMissingToken403:
    case AuthRefusal.GatewayMissingToken400:
      // The gateway answers before Align sees the request: its own error type and request id header.
      return {
        status: refusal === AuthRefusal.GatewayMissingToken403 ? 403 : 400,
        body: { message: "Missing Authentication Token" },
        headers: { "x-amzn-errortype": "MissingAuthenticationTokenException", "x-amzn-requestid": requestId },
        withRequestId: false,
      };
  }
}

/** Codes of the refusals `ValidationBody.MessageOnly` reshapes (state refusals keep their code). */
const VALIDATION_CODES = new Set(["validation_error", "invalid_json", "invalid_body"]);

/** Reshapes a 4xx answer for the dialect; other answers pass unchanged. */
export function shapeRefusal(dialect: Dialect, code: string, reply: Reply): Reply {
  if (dialect.validationBody !== ValidationBody.MessageOnly || !VALIDATION_CODES.has(code)) return reply;
  const body = reply.body as { message: string; errors?: { message: string }[] };
  const message = body.errors?.length ? body.errors.map((error) => error.message).join("; ") : body.message;
  return { ...reply, body: { message } };
}
