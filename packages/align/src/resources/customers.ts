import {
  type CreateCustomerRequest,
  CreateCustomerRequestSchema,
  CreateKycSessionParamsSchema,
  type Customer,
  type CustomerList,
  CustomerListSchema,
  CustomerSchema,
  GetCustomerParamsSchema,
  type KycSession,
  KycSessionSchema,
  type ListCustomersParams,
  ListCustomersParamsSchema,
  type SimulateCustomerRequest,
  SimulateCustomerRequestSchema,
  type SimulateCustomerResponse,
  SimulateCustomerResponseSchema,
} from "../customer-schemas.js";
import { AlignConflictError, AlignError } from "../errors.js";
import { type ApiResponse, parseResponse, type RequestOptions, type Transport } from "../transport.js";
import { parseRequest } from "../validation.js";
import { namesCustomerTypeField, namesDuplicateEmail, toWireCustomer, type WireNegotiator } from "../wire.js";

/** Optional inputs of {@link Customers.createKycSession}. */
export interface CreateKycSessionParams {
  /** Where Align sends the user after the hosted flow (KYB only). */
  redirect_uri?: string;
}

/**
 * A create refused as a duplicate email in a 400/422 is the same fact as a
 * 409: one error class, so a caller's recovery does not hang on the status.
 */
function asConflict(error: unknown): unknown {
  if (!(error instanceof AlignError) || !namesDuplicateEmail(error)) return error;
  return new AlignConflictError(error.message, {
    status: error.status,
    code: error.code,
    requestId: error.requestId,
    body: error.body,
    retryAfterMs: error.retryAfterMs,
    cause: error,
  });
}

/** Customers and their KYC: `align.customers`. */
export class Customers {
  readonly #transport: Transport;
  readonly #wire: WireNegotiator;

  constructor(transport: Transport, wire: WireNegotiator) {
    this.#transport = transport;
    this.#wire = wire;
  }

  /**
   * Creates a customer. Validated before any network call; never retried
   * blindly, because Align honours no idempotency key (only 429 and refused
   * connections are retried). The one exception is a 400 that names the type
   * field (in `errors[].path` or in `message`) while the field's name is still
   * unknown: nothing was created, so it is retried once with the other name
   * (`type` / `beneficiary_type`). Align may answer 200 or 201, with `kycs`
   * null or already pending with a link (older reference).
   *
   * @throws {AlignValidationError} on invalid input, with every field path.
   * @throws {AlignConflictError} when the email already exists: a 409 (SDK
   *   docs), or a 400/422 saying so (`status` kept, the validation error as `cause`).
   * @example
   * ```ts
   * const customer = await align.customers.create({
   *   email: "alice@example.com",
   *   type: "individual",
   *   first_name: "Alice",
   *   last_name: "Smith",
   * });
   * console.log(customer.customer_id);
   * ```
   */
  async create(data: CreateCustomerRequest, options?: RequestOptions): Promise<Customer> {
    const body = parseRequest(CreateCustomerRequestSchema, data, "Request validation failed");
    const { customerType } = this.#wire;
    const started = Date.now();
    const field = customerType.current;
    try {
      const response = await this.#transport.request(
        { method: "POST", path: "/customers", body: toWireCustomer(body, field) },
        options,
      );
      customerType.accepted(field);
      return parseResponse(CustomerSchema, response);
    } catch (error) {
      const next = error instanceof AlignError && namesCustomerTypeField(error) ? customerType.next(field) : undefined;
      if (next === undefined) throw asConflict(error);
      // The retry shares the caller's total budget.
      const remaining =
        options?.totalTimeoutMs === undefined ? undefined : options.totalTimeoutMs - (Date.now() - started);
      if (remaining !== undefined && remaining <= 0) throw error;
      let response: ApiResponse;
      try {
        response = await this.#transport.request(
          { method: "POST", path: "/customers", body: toWireCustomer(body, next) },
          remaining === undefined ? options : { ...options, totalTimeoutMs: remaining },
        );
      } catch (retryError) {
        if (retryError instanceof AlignError && namesCustomerTypeField(retryError)) customerType.refused(next);
        throw asConflict(retryError);
      }
      customerType.accepted(next);
      return parseResponse(CustomerSchema, response);
    }
  }

  /**
   * Reads one customer, with its KYC state.
   *
   * @throws {AlignNotFoundError} when no such customer exists.
   * @example
   * ```ts
   * const customer = await align.customers.get("123e4567-e89b-12d3-a456-426614174000");
   * console.log(customer.kycs?.status ?? "not_started");
   * ```
   */
  async get(customerId: string, options?: RequestOptions): Promise<Customer> {
    const { customer_id } = parseRequest(GetCustomerParamsSchema, { customer_id: customerId }, "Invalid customer id");
    const response = await this.#transport.request(
      { method: "GET", path: `/customers/${encodeURIComponent(customer_id)}` },
      options,
    );
    return parseResponse(CustomerSchema, response);
  }

  /**
   * Finds customers by email (how an existing customer is found after a 409).
   *
   * @example
   * ```ts
   * const { items } = await align.customers.list({ email: "alice@example.com" });
   * const existing = items[0];
   * ```
   */
  async list(params: ListCustomersParams, options?: RequestOptions): Promise<CustomerList> {
    const { email } = parseRequest(ListCustomersParamsSchema, params, "Invalid list parameters");
    const response = await this.#transport.request({ method: "GET", path: "/customers", query: { email } }, options);
    return parseResponse(CustomerListSchema, response);
  }

  /**
   * Starts KYC for a customer and returns the hosted flow link.
   *
   * @example
   * ```ts
   * const session = await align.customers.createKycSession(customer.customer_id);
   * console.log(`KYC Link: ${session.kycs.kyc_flow_link}`);
   * ```
   */
  async createKycSession(
    customerId: string,
    params: CreateKycSessionParams = {},
    options?: RequestOptions,
  ): Promise<KycSession> {
    const { customer_id, redirect_uri } = parseRequest(
      CreateKycSessionParamsSchema,
      { customer_id: customerId, ...params },
      "Invalid KYC session parameters",
    );
    const response = await this.#transport.request(
      {
        method: "POST",
        path: `/customers/${encodeURIComponent(customer_id)}/kycs`,
        body: redirect_uri === undefined ? {} : { redirect_uri },
      },
      options,
    );
    return parseResponse(KycSessionSchema, response);
  }

  /**
   * Sandbox only: simulates a KYC decision. Align answers 403 in production.
   *
   * @example
   * ```ts
   * await align.customers.simulateCustomer({
   *   customer_id: customer.customer_id,
   *   action: "kyc.status.approve",
   * });
   * ```
   */
  async simulateCustomer(params: SimulateCustomerRequest, options?: RequestOptions): Promise<SimulateCustomerResponse> {
    const body = parseRequest(SimulateCustomerRequestSchema, params, "Invalid simulation request");
    const response = await this.#transport.request({ method: "POST", path: "/customers/simulate", body }, options);
    // Align documents `{}`; an empty body is accepted as the same.
    return parseResponse(SimulateCustomerResponseSchema, response.body === "" ? { ...response, body: {} } : response);
  }
}
