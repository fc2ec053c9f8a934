import type { CreateCustomerRequest, Customer, CustomerList, KycSession, Kycs, StartKycRequest } from "../api-types.js";
import type { AlignOnboarding, ApiPromise, CallOptions, MutationOptions } from "../client.js";
import { ApiAbortError, ApiTimeoutError, KycWaitTimeoutError } from "../errors.js";
import { sleep } from "../retry.js";

export type KycStatus = Kycs["status"];

export interface ListCustomersParams {
  /** 1..100 (default 50). */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

/** `startKyc`'s options: the request's fields and the call's. */
export interface StartKycOptions extends MutationOptions {
  /** Always open a new session, even while the open one's link is young (`new_session: true`). */
  newSession?: boolean;
  /** Where Align's hosted flow sends the user back (`redirect_uri`: https, or http on loopback). */
  redirectUri?: string;
}

/**
 * `customers.list()`: `await` it for one page, or iterate it for every
 * customer, the following pages fetched as the loop reaches them.
 */
export type CustomerListPromise = ApiPromise<CustomerList> & AsyncIterable<Customer>;

export interface WaitForKycStatusOptions {
  /** The status (or statuses) to wait for, or a test of the customer. */
  until: KycStatus | readonly KycStatus[] | ((customer: Customer) => boolean);
  /** Give up after this long (default 120 000 ms) with {@link KycWaitTimeoutError}. */
  timeoutMs?: number;
  /** First pause between reads (default 1 000 ms), growing by half each time up to `maxIntervalMs` (10 000). */
  intervalMs?: number;
  maxIntervalMs?: number;
  signal?: AbortSignal;
}

const encode = encodeURIComponent;

/** `api.customers`: the caller's customers and their KYC. */
export class Customers {
  private readonly client: AlignOnboarding;

  constructor(client: AlignOnboarding) {
    this.client = client;
  }

  /**
   * Creates a customer (`POST /customers`). Its Idempotency-Key is made here
   * (or given) and reused by this call's retries, so a lost answer never makes
   * a second customer.
   *
   * @throws {ApiError} `validation_failed` (see `errors`), `email_already_exists`, ...
   * @example
   * ```ts
   * const customer = await api.customers.create(
   *   { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" },
   *   { onIdempotencyKey: (key) => storage.set("pending-create", key) },
   * );
   * ```
   */
  create(body: CreateCustomerRequest, options?: MutationOptions): ApiPromise<Customer> {
    return this.client.request({ method: "POST", path: "/customers", body, mutation: true }, options);
  }

  /** One of the caller's customers (`GET /customers/{id}`); `ApiError` 404 `not_found` for anyone else's. */
  get(customerId: string, options?: CallOptions): ApiPromise<Customer> {
    return this.client.request({ method: "GET", path: `/customers/${encode(customerId)}`, mutation: false }, options);
  }

  /**
   * The caller's customers, newest first (`GET /customers`): `await` it for
   * one page, or iterate it for all of them (each page fetched when reached,
   * `limit` per page).
   *
   * @example
   * ```ts
   * for await (const customer of api.customers.list()) console.log(customer.customer_id);
   * const page = await api.customers.list({ limit: 20 }); // { items, next_cursor? }
   * ```
   */
  list(params: ListCustomersParams = {}, options?: CallOptions): CustomerListPromise {
    const first = this.page(params, options);
    const pages = this;
    async function* every(): AsyncGenerator<Customer> {
      let page = await first;
      for (;;) {
        yield* page.items;
        if (page.next_cursor === undefined) return;
        page = await pages.page({ ...params, cursor: page.next_cursor }, options);
      }
    }
    return Object.assign(first, { [Symbol.asyncIterator]: every });
  }

  private page(params: ListCustomersParams, options: CallOptions | undefined): ApiPromise<CustomerList> {
    const query = [
      ...(params.limit === undefined ? [] : [`limit=${encode(String(params.limit))}`]),
      ...(params.cursor === undefined ? [] : [`cursor=${encode(params.cursor)}`]),
    ].join("&");
    return this.client.request(
      { method: "GET", path: `/customers${query ? `?${query}` : ""}`, mutation: false },
      options,
    );
  }

  /**
   * Starts KYC, or gets the open session back (`POST /customers/{id}/kyc-sessions`).
   *
   * @example
   * ```ts
   * const { kycs } = await api.customers.startKyc(customer.customer_id);
   * openBrowser(kycs.kyc_flow_link);
   * await api.customers.startKyc(customer.customer_id, { newSession: true, idempotencyKey, signal });
   * ```
   */
  startKyc(customerId: string, options: StartKycOptions = {}): ApiPromise<KycSession> {
    const { newSession, redirectUri, ...call } = options;
    const body: StartKycRequest = {
      ...(redirectUri === undefined ? {} : { redirect_uri: redirectUri }),
      ...(newSession === undefined ? {} : { new_session: newSession }),
    };
    return this.client.request(
      {
        method: "POST",
        path: `/customers/${encode(customerId)}/kyc-sessions`,
        ...(Object.keys(body).length === 0 ? {} : { body }),
        mutation: true,
      },
      call,
    );
  }

  /**
   * Polls `GET /customers/{id}` until KYC reaches `until`, for apps without
   * push: pauses grow from `intervalMs` by half each read, with jitter.
   *
   * @throws {KycWaitTimeoutError} after `timeoutMs`, with the last status read.
   * @example
   * ```ts
   * const customer = await api.customers.waitForKycStatus(id, { until: ["approved", "rejected"], timeoutMs: 60_000 });
   * ```
   */
  async waitForKycStatus(customerId: string, options: WaitForKycStatusOptions): Promise<Customer> {
    const { until, signal } = options;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const maxIntervalMs = options.maxIntervalMs ?? 10_000;
    const reached =
      typeof until === "function"
        ? until
        : (customer: Customer) =>
            customer.kycs !== null && (typeof until === "string" ? [until] : until).includes(customer.kycs.status);
    const deadline = Date.now() + timeoutMs;
    let interval = options.intervalMs ?? 1_000;
    let lastStatus: KycStatus | null = null;
    const timedOut = (cause?: unknown) =>
      new KycWaitTimeoutError({
        status: 0,
        message: `KYC status did not reach the wanted value within ${timeoutMs} ms (last: ${lastStatus ?? "not started"})`,
        lastStatus,
        cause,
      });
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining > 0) {
        let customer: Customer;
        try {
          customer = await this.get(customerId, { totalTimeoutMs: remaining, ...(signal ? { signal } : {}) });
        } catch (error) {
          // A read cut short by the wait's own deadline is the wait timing out, whatever the read was doing.
          if (error instanceof ApiTimeoutError && Date.now() >= deadline) throw timedOut(error);
          throw error;
        }
        lastStatus = customer.kycs?.status ?? null;
        if (reached(customer)) return customer;
      }
      const pause = Math.min(interval * (0.8 + Math.random() * 0.4), deadline - Date.now());
      if (pause <= 0) throw timedOut();
      await sleep(pause, signal).catch((cause: unknown) => {
        throw new ApiAbortError({ status: 0, message: "The wait was aborted", cause });
      });
      interval = Math.min(maxIntervalMs, interval * 1.5);
    }
  }
}
