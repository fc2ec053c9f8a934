/**
 * Replaces `@aws-sdk/credential-provider-node` in function bundles (an esbuild
 * alias in `npm run build` and sst.config.ts). Lambda always puts the role's
 * credentials in the environment, so the default chain's other sources (SSO,
 * profiles, STS web identity, IMDS, with their nested clients: about 100 KB)
 * are dead code there.
 */
import { fromEnv } from "@aws-sdk/credential-provider-env";

export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
