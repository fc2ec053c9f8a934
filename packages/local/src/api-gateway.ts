import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { ApiEvent, ApiResult } from "@align-onboarding/core";
import type { Context } from "aws-lambda";
import { claimsForEvent, type JwtSettings, verifyToken } from "./jwt.js";
import { close, listen } from "./listen.js";

/** The subset of a route definition the gateway needs (see functions/routes.ts). */
export interface GatewayRoute {
  method: string;
  path: string;
  function: string;
  auth: "jwt" | "none";
}

export type LambdaHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

export interface ApiGatewayOptions {
  routes: readonly GatewayRoute[];
  /** Resolves a function name to its handler (imported once, like a warm Lambda). */
  loadHandler: (name: string) => Promise<LambdaHandler>;
  jwt: JwtSettings;
  /** Seconds per function before the invocation counts as timed out (default 30). */
  timeoutSeconds?: (name: string) => number;
  port?: number;
  host?: string;
  /** One line per request: method, route, status, ms. */
  log?: (line: Record<string, string | number>) => void;
}

export interface ApiGateway {
  url: string;
  close(): Promise<void>;
}

/** API Gateway's own limit on request bodies. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
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
    const url = new URL(req.url ?? "/", "http://gateway.invalid");
    const method = req.method ?? "GET";
    let status = 0;
    let routeKey = "-";
    try {
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
      res.writeHead(result.statusCode, {
        ...result.headers,
        "content-length": payload.length,
        "apigw-requestid": requestId,
      });
      res.end(payload);
    } catch (error) {
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

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  const url = await listen(server, options.port, options.host);
  return { url, close: () => close(server) };
}
