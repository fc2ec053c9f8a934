import { CustomerType, KycStatus } from "@align-onboarding/align";

// Apart from response-schemas.ts (classic zod, for the OpenAPI document only), so the functions that
// project customers load no schema.

/** KYC statuses our API answers. Align may add one: it reads as `pending` here (see `projectCustomer`). */
export const API_KYC_STATUSES = [KycStatus.Pending, KycStatus.Approved, KycStatus.Rejected] as const;
export const API_CUSTOMER_TYPES = [CustomerType.Individual, CustomerType.Corporate] as const;
