import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ApiContext, decideKyc, handleAlignRoute, isActive, type KycSessions } from "./align-api.js";
import {
  DeliveryNotHeldError,
  type DeliveryOptions,
  type DeliveryRef,
  type EventListener,
  type RedeliverOptions,
  type SignedRequest,
  WebhookDeliverer,
} from "./delivery.js";
import {
  type AuthRefusal,
  type AuthRefusals,
  authRefusalReply,
  type CreateAnswer,
  type Dialect,
  resolveDialect,
  shapeRefusal,
  type ValidationBody,
} from "./dialects.js";
import { describeFault, type FaultAction, FaultQueue, type FaultSpec, validateFault } from "./faults.js";
import { HttpError, jsonObject, type Reply, readBody, send } from "./http.js";
import { Journal } from "./persistence.js";
import {
  DEFAULT_PROFILE,
  type EmailFilter,
  type ProfileSettings,
  profileRefusals,
  profileSettings,
  SandboxAuth,
  type SandboxProfile,
  type SandboxTypeField,
} from "./profiles.js";
import { matchRoute } from "./routes.js";
import { type DeliveryAttempt, type RequestLogEntry, type SandboxSnapshot, SandboxState } from "./state.js";

export interface AlignSandboxOptions {
  /** The API key clients must send; also the webhook signing key. */
  apiKey: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the emulator is for this machine only. */
  host?: string;
  /** `production` makes simulation answer 403, as Align does. Default `sandbox`. */
  environment?: "sandbox" | "production";
  /**
   * Which of Align's contradicting sources this emulator follows: `sdk`
   * (default: raw `Authorization` + `type`), `official` (`Api-Key` + `type`,
   * other forms refused 403 as a gateway would), `legacy` (raw
   * `Authorization` + `beneficiary_type`, message-only 400s) or `guide`
   * (`Bearer` + `type`, refused 403 or 400 "Missing Authentication Token").
   * It accepts exactly that variant; the email filter is exact in all.
   */
  profile?: SandboxProfile;
  /** Overrides the profile's auth form (for example `bearer`, which no profile uses). */
  auth?: SandboxAuth;
  /** Overrides the profile's customer type field name. */
  customerTypeField?: SandboxTypeField;
  /** Overrides the profile's list filter (uniqueness always ignores case). */
  emailFilter?: EmailFilter;
  /** How long a KYC flow link works (default 24 hours, assumed: Align says links expire, not when). */
  kycLinkTtlMs?: number;
  /** What a KYC start does while a session is open (default `reuse_active`; see `KycSessions`). */
  kycSessions?: KycSessions;
  /**
   * How long (on `now`) a new customer is missing from `GET /v0/customers`,
   * as an eventually consistent search would miss it; the 409 on its email
   * and `GET /v0/customers/{id}` see it at once. Default 0: listed at once.
   */
  listLagMs?: number;
  /**
   * What create answers (opt-in older shape): `customer` (default: 200,
   * `kycs: null`) or `with_kycs` (201, `kycs` already `{ status: "pending",
   * kyc_flow_link }`, a KYC session opened).
   */
  createAnswer?: CreateAnswer;
  /**
   * How a key the profile does not read, or a wrong one, is refused:
   * `unauthorized_401` (default of `sdk`, `legacy`), `forbidden_403`, or API Gateway's
   * `{"message":"Missing Authentication Token"}` as `gateway_403` or
   * `gateway_400`. One form for both causes, or `{ missing, wrong }`.
   */
  authRefusal?: AuthRefusal | AuthRefusals;
  /**
   * The body of a 400 for an invalid request: `field_errors` (default but
   * for `legacy`: `{ message, code, errors }`) or `message_only` (`{ "message": "..." }`).
   */
  validationBody?: ValidationBody;
  /**
   * The emulator's clock, in milliseconds since the epoch (default
   * `Date.now`). Every instant it records or compares comes from it: customer
   * and event `created_at`, KYC session creation and expiry (so a simulation
   * that advances it sees links expire), webhook registrations, delivery
   * attempts and the request log. Timers (fault delays, retry backoff,
   * timeouts) still run in real time.
   */
  now?: () => number;
  /** Webhook delivery retry policy. */
  webhooks?: Partial<DeliveryOptions>;
  /**
   * A JSON file that keeps customers, KYC sessions and webhook registrations
   * across restarts (the local stack keeps it next to its DynamoDB data), with
   * an append-only journal beside it (`<dataFile>.journal`): a change is on
   * disk before the request that made it is answered. In memory when absent.
   */
  dataFile?: string;
  /** With `dataFile`: snapshot and empty the journal after this many changes (default 5 000). */
  journalCompactAfter?: number;
  /** Called once per request with a line free of bodies and query strings. */
  log?: (entry: RequestLogEntry & { ms: number }) => void;
}

export interface AlignSandbox {
  /** Changes what a KYC start does while a session is open (a simulation draws it per run). */
  setKycSessions(mode: KycSessions): void;
  /** Changes how long a new customer is missing from the customer list (see `listLagMs`). */
  setListLag(ms: number): void;
  /** Base URL, e.g. `http://127.0.0.1:3001` (paths start with `/v0`). */
  readonly url: string;
  readonly port: number;
  /** Arms a fault for the next matching requests. */
  addFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Forgets customers, webhooks, deliveries, the request log and faults, and stops holding deliveries. */
  reset(): void;
  /** A deep copy of the emulator's state. */
  state(): SandboxSnapshot;
  /** The contested points this emulator decides (from its profile and overrides). */
  readonly profile: ProfileSettings & { name: SandboxProfile };
  /** The opt-in answer shapes in force (`createAnswer`, `authRefusal`, `validationBody`). */
  readonly dialect: Dialect;
  /**
   * Sets a customer's KYC decision as Align's reviewers would (no Align route
   * does this; `rejected` has no simulate action). Emits `customer.kycs.updated`.
   */
  decideKyc(customerId: string, status: "approved" | "rejected"): Promise<void>;
  /**
   * Resolves once every webhook delivery has succeeded or exhausted its
   * attempts; held deliveries do not count until released.
   */
  deliveriesSettled(): Promise<void>;
  /**
   * Tells `listener` of each event as it is published: once the change that
   * caused it is durable, before the request that caused it is answered,
   * whether or not a webhook is registered, with the exact body and
   * signature every delivery of it sends. That answer waits for the promise
   * the listener returns, so a simulation can deliver the event first (racing
   * the API call that caused it). Returns the listener's removal.
   */
  onEvent(listener: EventListener): () => void;
  /**
   * From now on, deliveries are recorded in `state().deliveries` as `held`
   * and not sent; release them one by one, in any order, with
   * {@link AlignSandbox.releaseDelivery}. `reset()` stops holding.
   */
  holdDeliveries(): void;
  /** New deliveries go out again; those already held stay held until released. */
  resumeDeliveries(): void;
  /**
   * Sends a held delivery (by `delivery_id`, or index in `state().deliveries`)
   * now; resolves with its first attempt (`{ at, status? , error? }`). Failed
   * attempts are retried by the usual policy.
   */
  releaseDelivery(ref: DeliveryRef): Promise<DeliveryAttempt>;
  /**
   * Sends the identical signed bytes and headers of an earlier delivery
   * again, once (no retries), after `delayMs` real milliseconds (default 0),
   * to its URL or `url`. It is recorded as a new delivery whose
   * `redelivery_of` names the original; resolves with its attempt.
   */
  redeliver(ref: DeliveryRef, options?: RedeliverOptions): Promise<DeliveryAttempt>;
  /** The exact request of a past delivery (URL, headers, signed body), to send by other means. */
  deliveryRequest(ref: DeliveryRef): SignedRequest;
  close(): Promise<void>;
}

const ADMIN_PREFIX = "/_emulator";

/** A list lag as given, refused unless a finite number of ms >= 0. */
function listLag(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new Error("startAlignSandbox: listLagMs must be a number >= 0");
  return ms;
}

/**
 * Starts the Align sandbox emulator on loopback.
 *
 * @example
 * ```ts
 * const sandbox = await startAlignSandbox({ apiKey: "sandbox-key" });
 * const align = new Align({ apiKey: "sandbox-key", baseUrl: sandbox.url });
 * sandbox.addFault({ route: "POST /v0/customers", action: { type: "status", status: 500 } });
 * await sandbox.close();
 * ```
 */
export async function startAlignSandbox(options: AlignSandboxOptions): Promise<AlignSandbox> {
  if (typeof options.apiKey !== "string" || options.apiKey.length === 0) {
    throw new Error("startAlignSandbox: apiKey is required");
  }
  const profileName = options.profile ?? DEFAULT_PROFILE;
  const profile = profileSettings(profileName, {
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.customerTypeField ? { typeField: options.customerTypeField } : {}),
    ...(options.emailFilter ? { emailFilter: options.emailFilter } : {}),
  });
  const kycLinkTtlMs = options.kycLinkTtlMs ?? 24 * 60 * 60 * 1000;
  if (!Number.isFinite(kycLinkTtlMs) || kycLinkTtlMs <= 0) {
    throw new Error("startAlignSandbox: kycLinkTtlMs must be a positive number");
  }
  // The profile's refusal shapes, unless the caller chose others.
  const refusals = profileRefusals(profileName);
  const dialect = resolveDialect({
    createAnswer: options.createAnswer,
    authRefusal: options.authRefusal ?? refusals.authRefusal,
    validationBody: options.validationBody ?? refusals.validationBody,
  });
  const now = options.now ?? Date.now;
  const state = new SandboxState();
  const { dataFile } = options;
  const journal = dataFile
    ? await Journal.open(
        dataFile,
        state,
        options.journalCompactAfter === undefined ? {} : { compactAfter: options.journalCompactAfter },
      )
    : undefined;
  const faults = new FaultQueue();
  const deliverer = new WebhookDeliverer(
    state,
    options.apiKey,
    {
      maxAttempts: options.webhooks?.maxAttempts ?? 5,
      baseDelayMs: options.webhooks?.baseDelayMs ?? 1000,
      timeoutMs: options.webhooks?.timeoutMs ?? 5000,
    },
    { now },
  );
  let url = "";
  const ctx: ApiContext = {
    state,
    outbox: [],
    baseUrl: () => url,
    environment: options.environment ?? "sandbox",
    profile,
    kycLinkTtlMs,
    now,
    createAnswer: dialect.createAnswer,
    kycSessions: options.kycSessions ?? "reuse_active",
    listLagMs: listLag(options.listLagMs ?? 0),
  };
  /**
   * Makes what the last handler changed durable, then queues its events: no
   * answer and no webhook ever tells of a change a crash could still lose.
   * Every answer waits here, reads included, so none shows a change not yet on disk.
   */
  const commit = async () => {
    const events = ctx.outbox.splice(0);
    await journal?.durable();
    for (const event of events) await deliverer.publish(event);
  };
  // Pending delay faults, so close() does not wait for (or leave behind) their timers.
  const delays = new Map<NodeJS.Timeout, () => void>();
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        delays.delete(timer);
        resolve();
      }, ms);
      delays.set(timer, resolve);
    });
  const reset = () => {
    state.reset();
    faults.clear();
    deliverer.reset();
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    const requestId = `req_${randomUUID()}`;
    handle(req, res, requestId)
      .then((entry) => {
        if (entry) options.log?.({ ...entry, ms: Math.round(performance.now() - started) });
      })
      .catch(() => {
        // Never crash on one request: answer 500 if nothing was sent yet.
        send(res, { status: 500, body: { message: "Internal emulator error", code: "internal_error" } }, requestId);
      });
  });
  server.on("clientError", (_error, socket) => {
    const body = '{"message":"Malformed HTTP request","code":"bad_request"}';
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    } else socket.destroy();
  });

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<RequestLogEntry | undefined> {
    const method = req.method ?? "GET";
    const parsed = new URL(req.url ?? "/", "http://emulator.invalid");
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (error) {
      if (error instanceof HttpError) send(res, { ...error.toReply(), headers: { connection: "close" } }, requestId);
      else res.destroy();
      return undefined;
    }
    if (parsed.pathname.startsWith(`${ADMIN_PREFIX}/`)) {
      const path = parsed.pathname.slice(ADMIN_PREFIX.length);
      const reply = path.startsWith("/deliveries/")
        ? await adminDeliveries(method, path, raw)
        : admin(method, path, raw);
      await commit();
      send(res, reply, requestId);
      return undefined;
    }

    const entry: RequestLogEntry = {
      at: new Date(now()).toISOString(),
      method,
      route: "unmatched",
      status: 0,
      auth_headers: credentialHeaders(req),
    };
    state.logRequest(entry);
    const match = matchRoute(method, parsed.pathname);
    if (match.kind !== "match") {
      const reply: Reply =
        match.kind === "not_found"
          ? { status: 404, body: { message: "Not found", code: "not_found" } }
          : {
              status: 405,
              body: { message: "Method not allowed", code: "method_not_allowed" },
              headers: { allow: match.allow.join(", ") },
            };
      entry.status = reply.status;
      send(res, reply, requestId);
      return entry;
    }
    entry.route = match.route;

    const fault = faults.take(match.route);
    if (fault) entry.fault = describeFault(fault);
    if (fault?.type === "status") {
      entry.status = fault.status;
      send(res, statusFault(fault), requestId);
      return entry;
    }
    if (fault?.type === "drop" && fault.when === "before_commit") {
      entry.status = "dropped";
      res.socket?.destroy();
      return entry;
    }
    if (fault?.type === "delay") {
      const epoch = state.epoch;
      await delay(fault.ms);
      if (state.epoch !== epoch) {
        // A reset happened meanwhile: this request belongs to a world that is gone.
        res.socket?.destroy();
        return undefined;
      }
    }

    let reply: Reply;
    const credential = checkCredential(req, options.apiKey, profile.auth);
    if (credential !== "ok") {
      reply = authRefusalReply(dialect.authRefusal[credential], requestId);
    } else {
      try {
        reply = handleAlignRoute(ctx, match.route, match.params, parsed.searchParams, raw);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        reply = shapeRefusal(dialect, error.code, error.toReply());
      }
    }
    await commit();
    if (fault?.type === "drop") {
      // after_commit: the change above is made; the caller never hears of it.
      entry.status = "dropped";
      res.socket?.destroy();
      return entry;
    }
    entry.status = reply.status;
    send(res, reply, requestId);
    return entry;
  }

  function admin(method: string, path: string, raw: Buffer): Reply {
    try {
      if (method === "POST" && path === "/reset") {
        reset();
        return { status: 200, body: {} };
      }
      if (method === "GET" && path === "/state")
        return { status: 200, body: { ...state.snapshot(), faults: faults.list() } };
      if (method === "POST" && path === "/faults") {
        const spec = validateFault(jsonObject(raw));
        if (typeof spec === "string") throw new HttpError(400, "invalid_fault", spec);
        faults.add(spec);
        return { status: 201, body: spec };
      }
      if (method === "DELETE" && path === "/faults") {
        faults.clear();
        return { status: 200, body: {} };
      }
      if (method === "GET" && path.startsWith("/kyc-flow/")) return kycFlow(path.slice("/kyc-flow/".length));
      const decision = /^\/customers\/([^/]+)\/kyc$/.exec(path);
      if (method === "POST" && decision) {
        const status = jsonObject(raw).status;
        if (status !== "approved" && status !== "rejected") {
          throw new HttpError(400, "invalid_decision", "status must be 'approved' or 'rejected'");
        }
        const customer = state.customers.get(decodeURIComponent(decision[1] ?? ""));
        if (!customer) throw new HttpError(404, "not_found", "Customer not found");
        decideKyc(ctx, customer, status);
        return { status: 200, body: { kycs: customer.kycs } };
      }
      return { status: 404, body: { message: "Not found", code: "not_found" } };
    } catch (error) {
      if (error instanceof HttpError) return error.toReply();
      throw error;
    }
  }

  /**
   * Delivery controls over HTTP, for a harness in another process:
   * `POST /deliveries/hold`, `POST /deliveries/resume`,
   * `POST /deliveries/{ref}/release`, `POST /deliveries/{ref}/redeliver
   * { delay_ms?, url? }` (both answer the attempt) and `GET /deliveries/{ref}`
   * (the exact signed request). `ref` is a `delivery_id` or, all digits, an index.
   */
  async function adminDeliveries(method: string, path: string, raw: Buffer): Promise<Reply> {
    const parts = path.split("/");
    const [, , ref = "", action] = parts;
    if (parts.length > 4) return { status: 404, body: { message: "Not found", code: "not_found" } };
    if (method === "POST" && action === undefined && (ref === "hold" || ref === "resume")) {
      if (ref === "hold") deliverer.hold();
      else deliverer.resume();
      return { status: 200, body: {} };
    }
    let target: DeliveryRef;
    try {
      target = /^\d+$/.test(ref) ? Number(ref) : decodeURIComponent(ref);
    } catch {
      return { status: 404, body: { message: "Delivery not found", code: "not_found" } };
    }
    if (!state.deliveries.some((entry, index) => entry.delivery_id === target || index === target)) {
      return { status: 404, body: { message: "Delivery not found", code: "not_found" } };
    }
    try {
      if (method === "GET" && action === undefined) return { status: 200, body: deliverer.request(target) };
      if (method === "POST" && action === "release") return { status: 200, body: await deliverer.release(target) };
      if (method === "POST" && action === "redeliver") {
        const body = raw.length === 0 ? {} : jsonObject(raw);
        const delayMs = body.delay_ms;
        if (delayMs !== undefined && (typeof delayMs !== "number" || delayMs < 0 || delayMs > 600_000)) {
          throw new HttpError(400, "invalid_redelivery", "delay_ms must be 0..600000");
        }
        if (body.url !== undefined && typeof body.url !== "string") {
          throw new HttpError(400, "invalid_redelivery", "url must be a string");
        }
        const attempt = await deliverer.redeliver(target, {
          ...(delayMs === undefined ? {} : { delayMs }),
          ...(body.url === undefined ? {} : { url: body.url }),
        });
        return { status: 200, body: attempt };
      }
    } catch (error) {
      if (error instanceof HttpError) return error.toReply();
      if (error instanceof DeliveryNotHeldError) {
        return { status: 409, body: { message: error.message, code: "not_held" } };
      }
      throw error;
    }
    return { status: 404, body: { message: "Not found", code: "not_found" } };
  }

  /** The hosted flow behind a KYC link: 200 while it is the customer's current, unexpired session, else 410. */
  function kycFlow(sessionId: string): Reply {
    for (const session of state.sessions.values()) {
      if (session.session_id !== sessionId) continue;
      if (!isActive(ctx, session)) break;
      return {
        status: 200,
        body: {
          message: "Sandbox KYC flow: approve with POST /v0/customers/simulate",
          customer_id: session.customer_id,
          expires_at: session.expires_at,
        },
      };
    }
    return { status: 410, body: { message: "This KYC link expired or was replaced", code: "kyc_link_expired" } };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;

  return {
    url,
    port: address.port,
    addFault: (fault) => {
      const spec = validateFault(fault);
      if (typeof spec === "string") throw new Error(`Invalid fault: ${spec}`);
      faults.add(spec);
    },
    clearFaults: () => faults.clear(),
    reset,
    state: () => state.snapshot(),
    profile: { name: profileName, ...profile },
    dialect: structuredClone(dialect),
    setKycSessions: (mode: KycSessions) => {
      ctx.kycSessions = mode;
    },
    setListLag: (ms: number) => {
      ctx.listLagMs = listLag(ms);
    },
    decideKyc: async (customerId, status) => {
      const customer = state.customers.get(customerId);
      if (!customer) throw new Error(`No customer ${customerId}`);
      decideKyc(ctx, customer, status);
      await commit();
    },
    deliveriesSettled: () => deliverer.idle(),
    onEvent: (listener) => deliverer.onEvent(listener),
    holdDeliveries: () => deliverer.hold(),
    resumeDeliveries: () => deliverer.resume(),
    releaseDelivery: (ref) => deliverer.release(ref),
    redeliver: (ref, redeliverOptions) => deliverer.redeliver(ref, redeliverOptions),
    deliveryRequest: (ref) => deliverer.request(ref),
    close: async () => {
      deliverer.close();
      state.epoch += 1;
      for (const [timer, resolve] of delays) {
        clearTimeout(timer);
        resolve();
      }
      delays.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await journal?.close();
    },
  };
}

function statusFault(fault: Extract<FaultAction, { type: "status" }>): Reply {
  return {
    status: fault.status,
    body: fault.body ?? { message: `Injected fault: ${fault.status}`, code: `injected_${fault.status}` },
    headers: fault.retry_after === undefined ? {} : { "retry-after": String(fault.retry_after) },
  };
}

/**
 * Whether the key arrived in the one form this profile's Align reads:
 * `missing` when that header is absent (the key may be in another one),
 * `wrong` when it holds anything but the key. Either is refused, as an API
 * reading only that header would.
 */
function checkCredential(req: IncomingMessage, apiKey: string, form: SandboxAuth): "ok" | "missing" | "wrong" {
  if (form === SandboxAuth.ApiKey) {
    const header = req.headers["api-key"];
    if (header === undefined) return "missing";
    return header === apiKey ? "ok" : "wrong";
  }
  const authorization = req.headers.authorization;
  if (authorization === undefined) return "missing";
  if (form === SandboxAuth.Authorization) return authorization === apiKey ? "ok" : "wrong";
  return authorization.replace(/^Bearer\s+/i, "Bearer ") === `Bearer ${apiKey}` ? "ok" : "wrong";
}

/** Names (never values) of the headers that carry a credential, for tests to check. */
function credentialHeaders(req: IncomingMessage): string[] {
  const names: string[] = [];
  if (req.headers["api-key"] !== undefined) names.push("api-key");
  const authorization = req.headers.authorization;
  if (authorization !== undefined)
    names.push(/^Bearer\s/i.test(authorization) ? "authorization:bearer" : "authorization");
  return names;
}
