import type { SimulateRequest, SimulateResponse } from "../api-types.js";
import type { AlignOnboarding, ApiPromise, MutationOptions } from "../client.js";

/** `api.sandbox`: sandbox stages only (production has no such route: a `GatewayError` 404). */
export class Sandbox {
  private readonly client: AlignOnboarding;

  constructor(client: AlignOnboarding) {
    this.client = client;
  }

  /**
   * Asks Align's sandbox for a KYC decision (`POST /sandbox/customers/{id}/simulate`);
   * the new status arrives by webhook: follow it with `customers.waitForKycStatus`.
   *
   * @example
   * ```ts
   * await api.sandbox.simulate(customer.customer_id, { action: "kyc.status.approve" });
   * ```
   */
  simulate(customerId: string, body: SimulateRequest, options?: MutationOptions): ApiPromise<SimulateResponse> {
    return this.client.request(
      { method: "POST", path: `/sandbox/customers/${encodeURIComponent(customerId)}/simulate`, body, mutation: true },
      options,
    );
  }
}
