// Generated from docs/openapi.app.json by `npm run openapi`: do not edit (test/client-types.test.ts checks it).

/** A customer to create: an `individual` (first and last name) or a `corporate` (company name). */
export type CreateCustomerRequest = IndividualCustomerRequest | CorporateCustomerRequest;

export interface IndividualCustomerRequest {
  email: string;
  type: "individual";
  /** At most 255 characters as sent (UTF-16 code units: a character beyond U+FFFF counts two); leading and trailing whitespace is trimmed, and at least one other character must remain */
  first_name: string;
  /** At most 255 characters as sent (UTF-16 code units: a character beyond U+FFFF counts two); leading and trailing whitespace is trimmed, and at least one other character must remain */
  last_name: string;
}

export interface CorporateCustomerRequest {
  email: string;
  type: "corporate";
  /** At most 255 characters as sent (UTF-16 code units: a character beyond U+FFFF counts two); leading and trailing whitespace is trimmed, and at least one other character must remain */
  company_name: string;
}

export interface StartKycRequest {
  /** Where the KYC flow returns: https, or http to 127.0.0.1, localhost or [::1] only */
  redirect_uri?: string;
  new_session?: boolean;
}

export interface SimulateRequest {
  action: "kyc.status.approve";
}

/** KYC state. A status Align adds later reads as `pending` until this document lists it. */
export interface Kycs {
  status: "pending" | "approved" | "rejected";
  sub_status?: string | null;
  kyc_flow_link?: string | null;
  status_breakdown?: Array<{
    currency: string;
    payment_rails: string;
    status: string;
  }> | null;
}

export interface Customer {
  customer_id: string;
  email: string;
  type?: "individual" | "corporate";
  first_name?: string | null;
  last_name?: string | null;
  company_name?: string | null;
  /** `null` until KYC starts */
  kycs: Kycs | null;
  /** Present (true) when Align could not be reached to refresh the status */
  stale?: true;
}

export interface CustomerList {
  items: Customer[];
  /** Pass as `cursor` for the next page */
  next_cursor?: string;
}

export interface KycSession {
  kycs: Kycs;
}

export interface SimulateResponse {
  customer_id: string;
  action: "kyc.status.approve";
}

/** RFC 9457 problem details, the body of every error our functions answer. Bodies over 65536 bytes are refused. */
export interface Problem {
  /** `urn:align-onboarding:problem:<code>` */
  type: string;
  title: string;
  status: number;
  code: "validation_failed" | "invalid_json" | "invalid_body" | "idempotency_key_missing" | "idempotency_key_invalid" | "invalid_webhook_payload" | "unauthorized" | "invalid_signature" | "not_found" | "email_already_exists" | "idempotency_key_in_use" | "kyc_not_started" | "kyc_session_expired" | "payload_too_large" | "unsupported_media_type" | "idempotency_key_reused" | "upstream_rejected" | "internal_error" | "upstream_error" | "upstream_unavailable" | "upstream_rate_limited" | "service_unavailable" | "upstream_timeout";
  detail?: string;
  errors?: Array<{
    path: string[];
    message: string;
  }>;
  /** With `email_already_exists`, when the caller owns that customer */
  customer_id?: string;
  request_id: string;
}

/** API Gateway's own answer (refused token, no route, throttling, a failed function): HTTP APIs cannot change it, so it has no `code` or `request_id` */
export interface GatewayMessage {
  message: string;
}
