import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ApiEvent, ApiResult } from "@align-onboarding/core";
import type { Context } from "aws-lambda";
import { DOCS_TOKEN_SUBJECT, docsAsset } from "./docs.js";
import { claimsForEvent, type JwtSettings, signToken, verifyToken } from "./jwt.js";
import { close, listen } from "./listen.js";

/** The subset of a route definition the gateway needs (see functions/routes.ts). */
export interface GatewayRoute {
  method: string;
  path: string;
  function: string;
  auth: "jwt" | "none";
}

export type LambdaHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/** An HTTP API's CORS configuration (functions/routes.ts `cors`, which sst.config.ts deploys). */
export interface CorsSettings {
  allowOrigins: readonly string[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds: number;
}

export interface ApiGatewayOptions {
  routes: readonly GatewayRoute[];
  /** Answer CORS as API Gateway does with this configuration (none: no CORS headers, as with `cors: false`). */
  cors?: CorsSettings;
  /** Resolves a function name to its handler (imported once, like a warm Lambda). */
  loadHandler: (name: string) => Promise<LambdaHandler>;
  jwt: JwtSettings;
  /** Seconds per function before the invocation counts as timed out (default 30). */
  timeoutSeconds?: (name: string) => number;
  port?: number;
  host?: string;
  /** One line per request: method, route, status, ms. */
  log?: (line: Record<string, string | number>) => void;
  /** Serve the interactive API reference at GET /docs (local only; see docs.ts). */
  docs?: boolean;
  /**
   * Milliseconds a client has to send its whole request (headers and body)
   * before it is answered 408 (default 29000: with the 1 s check, within API
   * Gateway's 30 s). Tests shorten it.
   */
  requestTimeoutMs?: number;
}

export interface ApiGateway {
  url: string;
  close(): Promise<void>;
}

/** Default time to receive a whole request; with the check interval below, an answer within 30 s. */
const DEFAULT_REQUEST_TIMEOUT_MS = 29_000;
/** API Gateway's own limit on request bodies. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** HTTP API quota: "total combined size of request line and header values", 10240 bytes. */
export const MAX_REQUEST_LINE_AND_HEADERS_BYTES = 10_240;
/**
 * Node's parser limit here: far above API Gateway's, so the quota check in the
 * request handler (which can tell a long URL from long headers) decides. Past
 * this, Node's parser reports one overflow for both, answered 431.
 */
const PARSER_MAX_HEADER_BYTES = 1024 * 1024;
/** An HTTP method is a token (RFC 9110): anything else is a malformed request line. */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * How the emulator answers a request API Gateway refuses before routing
 * (docs/local-runtime.md lists the choices): always an answer with API
 * Gateway's `{"message"}` body and `connection: close`, never a reset socket.
 */
export const GatewayRefusal = {
  /** The request line alone is over the quota. */
  uriTooLong: { status: 414, message: "Request-URI Too Long" },
  /** Request line plus headers over the quota. */
  headersTooLarge: { status: 431, message: "Request Header Fields Too Large" },
  /** A method no route has, however unusual: API Gateway routes it like any other, to no route. */
  unknownMethod: { status: 404, message: "Not Found" },
  /** Not HTTP: a bad character in a header or the request line. */
  malformed: { status: 400, message: "Bad Request" },
  /** Headers or body still arriving when the request's time ran out (a trickling client). */
  requestTimeout: { status: 408, message: "Request Timeout" },
} as const satisfies Record<string, { status: number; message: string }>;
type Refusal = (typeof GatewayRefusal)[keyof typeof GatewayRefusal];

const REASONS: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
};

/** What Node's parser refused (a `clientError`), as API Gateway would answer it. */
function refusalFor(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): Refusal {
  if (error.code === "HPE_HEADER_OVERFLOW") return GatewayRefusal.headersTooLarge;
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return GatewayRefusal.requestTimeout;
  if (error.code === "HPE_INVALID_METHOD") {
    // The method is where parsing stopped, at the start of the packet.
    const method = error.rawPacket?.toString("latin1").split(" ")[0] ?? "";
    return METHOD_TOKEN.test(method) ? GatewayRefusal.unknownMethod : GatewayRefusal.malformed;
  }
  return GatewayRefusal.malformed;
}

/** The quota check Node's parser does not make (its limit is higher): request line, then line plus headers. */
function oversized(req: IncomingMessage): Refusal | undefined {
  const line = Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
  if (line > MAX_REQUEST_LINE_AND_HEADERS_BYTES) return GatewayRefusal.uriTooLong;
  let total = line;
  for (const part of req.rawHeaders) total += Buffer.byteLength(part);
  return total > MAX_REQUEST_LINE_AND_HEADERS_BYTES ? GatewayRefusal.headersTooLarge : undefined;
}
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|javascript|x-www-form-urlencoded))/i;

interface CompiledRoute extends GatewayRoute {
  pattern: RegExp;
  names: string[];
}

function compile(route: GatewayRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

/**
 * CORS as API Gateway answers it when the API configures it: a preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) is answered 204 by
 * the gateway itself, before any route or authorizer; any other request with
 * an allowed Origin gets the allow-origin and expose headers on its answer,
 * whoever made it. True when the request was a preflight and is answered.
 */
function corsAnswered(cors: CorsSettings, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  const allowed = cors.allowOrigins.includes("*") ? "*" : cors.allowOrigins.includes(origin) ? origin : undefined;
  if (allowed === undefined) return false;
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
    req.resume();
    res.writeHead(204, {
      "access-control-allow-origin": allowed,
      "access-control-allow-methods": cors.allowMethods.join(","),
      "access-control-allow-headers": cors.allowHeaders.join(","),
      "access-control-max-age": String(cors.maxAgeSeconds),
      ...(allowed === "*" ? {} : { vary: "origin" }),
    });
    res.end();
    return true;
  }
  // Set before any writeHead, which merges them into every answer (the function's own CORS headers are not used).
  res.setHeader("access-control-allow-origin", allowed);
  res.setHeader("access-control-expose-headers", cors.exposeHeaders.join(","));
  if (allowed !== "*") res.setHeader("vary", "origin");
  return false;
}

function gatewayError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ message });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * An emulator of an API Gateway HTTP API (payload format 2.0) with a JWT
 * authorizer, in front of in-process handlers. Like API Gateway, it answers
 * unknown routes `404 {"message":"Not Found"}` and rejected tokens
 * `401 {"message":"Unauthorized"}` itself, before any function runs.
 */
export async function startApiGateway(options: ApiGatewayOptions): Promise<ApiGateway> {
  const compiled = options.routes.map(compile);
  // Each function's module is loaded once and then reused, as a warm Lambda reuses its instance.
  const handlers = new Map<string, Promise<LambdaHandler>>();
  const handlerFor = (name: string) => {
    let handler = handlers.get(name);
    if (!handler) {
      handler = options.loadHandler(name);
      handlers.set(name, handler);
      handler.catch(() => handlers.delete(name)); // a failed load is retried by the next request
    }
    return handler;
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const started = performance.now();
    const method = req.method ?? "GET";
    let status = 0;
    let routeKey = "-";
    try {
      if (options.cors && corsAnswered(options.cors, req, res)) {
        status = 204;
        routeKey = "OPTIONS (CORS preflight)";
        return;
      }
      const refused = oversized(req);
      if (refused) {
        status = refused.status;
        return gatewayError(res, refused.status, refused.message, { connection: "close" });
      }
      const url = new URL(req.url ?? "/", "http://gateway.invalid");
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_PAYLOAD_BYTES) {
          status = 413;
          return gatewayError(res, 413, "Request Entity Too Large", { connection: "close" });
        }
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      if (options.docs && method === "GET" && url.pathname === "/docs/token") {
        // The reference page's one-click token: signed with the local secret, so it exists only here.
        status = 200;
        routeKey = "GET /docs/token";
        const body = JSON.stringify({
          token: signToken(options.jwt, DOCS_TOKEN_SUBJECT, 60 * 60),
          sub: DOCS_TOKEN_SUBJECT,
        });
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(body);
        return;
      }
      const asset = options.docs && method === "GET" ? await docsAsset(url.pathname) : undefined;
      if (asset) {
        status = 200;
        routeKey = "GET /docs";
        res.writeHead(200, { "content-type": asset.type, "content-length": asset.body.length });
        res.end(asset.body);
        return;
      }
      let route: CompiledRoute | undefined;
      let match: RegExpExecArray | null = null;
      for (const candidate of compiled) {
        if (candidate.method !== method) continue;
        match = candidate.pattern.exec(url.pathname);
        if (match) {
          route = candidate;
          break;
        }
      }
      if (!route || !match) {
        status = 404;
        return gatewayError(res, 404, "Not Found");
      }
      routeKey = `${route.method} ${route.path}`;

      let claims: Record<string, string> | undefined;
      if (route.auth === "jwt") {
        const header = req.headers.authorization ?? "";
        const token = header.replace(/^Bearer\s+/i, "").trim();
        try {
          claims = claimsForEvent(verifyToken(options.jwt, token));
        } catch {
          status = 401;
          return gatewayError(res, 401, "Unauthorized", { "www-authenticate": "Bearer" });
        }
      }

      const pathParameters: Record<string, string> = {};
      route.names.forEach((name, index) => {
        const raw = match?.[index + 1] ?? "";
        try {
          pathParameters[name] = decodeURIComponent(raw);
        } catch {
          pathParameters[name] = raw;
        }
      });
      // Null-prototype maps, as Lambda's JSON.parse of the event gives: `__proto__` or `constructor`
      // in a query or header is data, not a property of Object.prototype.
      const headers = Object.create(null) as Record<string, string>;
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
      }
      const query = Object.create(null) as Record<string, string>;
      for (const [name, value] of url.searchParams)
        query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
      const contentType = headers["content-type"] ?? "";
      const isText = body.length === 0 || TEXT_TYPES.test(contentType);
      const requestId = randomUUID();
      const now = new Date();
      const event = {
        version: "2.0",
        routeKey,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
        ...(route.names.length > 0 ? { pathParameters } : {}),
        requestContext: {
          accountId: "000000000000",
          apiId: "local",
          domainName: headers.host ?? "127.0.0.1",
          domainPrefix: "local",
          http: {
            method,
            path: url.pathname,
            protocol: `HTTP/${req.httpVersion}`,
            sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
            userAgent: headers["user-agent"] ?? "",
          },
          requestId,
          routeKey,
          stage: "$default",
          time: now.toUTCString(),
          timeEpoch: now.getTime(),
          ...(claims ? { authorizer: { jwt: { claims, scopes: null } } } : {}),
        },
        ...(body.length > 0 ? { body: body.toString(isText ? "utf8" : "base64") } : {}),
        isBase64Encoded: !isText,
      } as unknown as ApiEvent;

      const timeoutMs = (options.timeoutSeconds?.(route.function) ?? 30) * 1000;
      const deadline = Date.now() + timeoutMs;
      const context = {
        awsRequestId: randomUUID(),
        functionName: route.function,
        functionVersion: "$LATEST",
        invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${route.function}`,
        memoryLimitInMB: "512",
        logGroupName: `/aws/lambda/${route.function}`,
        logStreamName: "local",
        callbackWaitsForEmptyEventLoop: false,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        done: () => undefined,
        fail: () => undefined,
        succeed: () => undefined,
      } satisfies Context;

      const handler = await handlerFor(route.function);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const result = await Promise.race([handler(event, context), timedOut]).finally(() => clearTimeout(timer));
      if (result === "timeout") {
        // Lambda would have been stopped; API Gateway answers a failed integration with 500.
        status = 500;
        return gatewayError(res, 500, "Internal Server Error");
      }
      status = result.statusCode;
      const payload = Buffer.from(result.body ?? "", result.isBase64Encoded ? "base64" : "utf8");
      // API Gateway ignores an integration's CORS headers: its configuration decides them.
      const integrationHeaders = Object.fromEntries(
        Object.entries(result.headers ?? {}).filter(([name]) => !/^access-control-/i.test(name)),
      );
      res.writeHead(result.statusCode, {
        ...integrationHeaders,
        "content-length": payload.length,
        "apigw-requestid": requestId,
      });
      res.end(payload);
    } catch (error) {
      if (!res.headersSent && !req.socket.writable) {
        // The request never arrived whole (the client left, or was answered 408 by the clientError handler).
        status = status || GatewayRefusal.requestTimeout.status;
        return;
      }
      // A handler that throws is a failed integration: API Gateway answers 500 with its own body.
      status = 500;
      if (!res.headersSent) gatewayError(res, 500, "Internal Server Error");
      options.log?.({
        level: "error",
        message: "handler threw",
        error: error instanceof Error ? error.name : "unknown",
      });
    } finally {
      options.log?.({ method, route: routeKey, status, ms: Math.round(performance.now() - started) });
    }
  }

  // Node cuts off a request whose headers or body trickle in (requestTimeout covers both, headersTimeout the
  // headers); it checks every connectionsCheckingInterval, so that is kept short for a bounded answer.
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server = createServer(
    {
      maxHeaderSize: PARSER_MAX_HEADER_BYTES,
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  /** Writes a refusal straight to a socket Node's HTTP layer no longer answers on. */
  const refuseOnSocket = (socket: Duplex, refused: Refusal) => {
    const body = JSON.stringify({ message: refused.message });
    socket.end(
      `HTTP/1.1 ${refused.status} ${REASONS[refused.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
  // CONNECT is a method no route can have (HTTP API routes take ANY, GET, POST, ... only); without a listener
  // Node drops the socket. Answered as any other method without a route.
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    options.log?.({ method: "CONNECT", route: "-", status: GatewayRefusal.unknownMethod.status, ms: 0 });
    req.resume();
    refuseOnSocket(socket, GatewayRefusal.unknownMethod);
  });
  server.on("clientError", (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    // A socket the client already broke (reset, timed out) has no one left to answer.
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const refused = refusalFor(error);
    options.log?.({ method: "-", route: "-", status: refused.status, ms: 0, error: error.code ?? "parse" });
    refuseOnSocket(socket, refused);
  });
  const url = await listen(server, options.port, options.host);
  return { url, close: () => close(server) };
}
