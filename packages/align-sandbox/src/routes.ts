/** The Align routes the emulator serves, as `METHOD /pattern` keys. */
export const AlignRoute = {
  CreateCustomer: "POST /v0/customers",
  ListCustomers: "GET /v0/customers",
  GetCustomer: "GET /v0/customers/{customer_id}",
  CreateKycSession: "POST /v0/customers/{customer_id}/kycs",
  SimulateCustomer: "POST /v0/customers/simulate",
  CreateWebhook: "POST /v0/webhooks",
  ListWebhooks: "GET /v0/webhooks",
  DeleteWebhook: "DELETE /v0/webhooks/{webhook_id}",
} as const;
export type AlignRoute = (typeof AlignRoute)[keyof typeof AlignRoute];

interface CompiledRoute {
  route: AlignRoute;
  method: string;
  pattern: RegExp;
  params: string[];
}

const compiled: CompiledRoute[] = Object.values(AlignRoute).map((route) => {
  const [method, path] = route.split(" ") as [string, string];
  const params: string[] = [];
  const source = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    params.push(name);
    return "([^/]+)";
  });
  return { route, method, pattern: new RegExp(`^${source}/?$`), params };
});

export type RouteMatch =
  | { kind: "match"; route: AlignRoute; params: Record<string, string> }
  | { kind: "method_not_allowed"; allow: string[] }
  | { kind: "not_found" };

/** Finds the route for a request; literal routes win over parameterised ones. */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const allow: string[] = [];
  const candidates = compiled
    .map((entry) => ({ entry, match: entry.pattern.exec(pathname) }))
    .filter((candidate) => candidate.match !== null)
    .sort((a, b) => a.entry.params.length - b.entry.params.length);
  for (const { entry, match } of candidates) {
    if (entry.method !== method) {
      allow.push(entry.method);
      continue;
    }
    const params: Record<string, string> = {};
    let decoded = true;
    entry.params.forEach((name, index) => {
      try {
        params[name] = decodeURIComponent(match?.[index + 1] ?? "");
      } catch {
        decoded = false;
      }
    });
    if (!decoded) return { kind: "not_found" };
    return { kind: "match", route: entry.route, params };
  }
  return allow.length > 0 ? { kind: "method_not_allowed", allow: [...new Set(allow)] } : { kind: "not_found" };
}
