/**
 * Runs sst.config.ts's `app()` and `run()` without Pulumi or AWS: SST's
 * globals are replaced by recorders that keep every component's arguments,
 * so tests assert on what the config asks SST to create. Where SST itself
 * turns arguments into resources (a Function's role policy from its
 * `permissions` and its links' `include`; a Dynamo link's `dynamodb:*`;
 * `Linkable.wrap` replacing a class's link), the recorders do what SST's
 * source does, and test/deploy-config.test.ts checks that source still says so.
 */

export interface Recorded {
  type: string;
  name: string;
  args: Record<string, unknown>;
}

/** An SST permission, as `sst.aws.permission` returns it. */
interface Permission {
  type?: string;
  actions: string[];
  resources: unknown[];
}

type Transform = ((args: Record<string, unknown>) => unknown) | Record<string, unknown>;

/** Applies a recorded `transform.<key>` to `base` as SST's `transform()` does: a function edits, an object merges. */
export function applyTransform(args: Record<string, unknown>, key: string, base: Record<string, unknown> = {}) {
  const transform = (args.transform as Record<string, Transform> | undefined)?.[key];
  const copy = structuredClone(base);
  if (typeof transform === "function") {
    transform(copy);
    return copy;
  }
  return { ...copy, ...transform };
}

export interface Harness {
  created: Recorded[];
  of(type: string): Recorded[];
  /** The statements of a Function's role policy, as SST builds it: `permissions`, then its links' permissions. */
  policy(fn: Recorded): Permission[];
}

/**
 * Installs SST's globals (`$config`, `$app`, `$dev`, `$cli`, `sst`, `aws`,
 * `$interpolate`, `$resolve`) as recorders for one `run()`.
 */
export function installSst(options: { stage: string; dev?: boolean; root: string }): Harness {
  const created: Recorded[] = [];
  const g = globalThis as Record<string, unknown>;

  class Resource {
    readonly name: string;
    readonly args: Record<string, unknown>;
    constructor(type: string, name: string, args: Record<string, unknown> = {}) {
      this.name = name;
      this.args = args;
      created.push({ type, name, args });
    }
    get arn() {
      return `arn:${this.name}`;
    }
    get id() {
      return `id:${this.name}`;
    }
    get url() {
      return `https://${this.name}.example`;
    }
  }
  const component = (type: string) =>
    class extends Resource {
      constructor(name: string, args: Record<string, unknown> = {}) {
        super(type, name, args);
      }
    };

  class Dynamo extends Resource {
    constructor(name: string, args: Record<string, unknown> = {}) {
      super("sst.aws.Dynamo", name, args);
    }
    /** SST 4.17's own link (platform/src/components/aws/dynamo.ts getSSTLink). */
    getSSTLink(): { properties: Record<string, unknown>; include: Permission[] } {
      return {
        properties: { name: this.name },
        include: [{ type: "aws.permission", actions: ["dynamodb:*"], resources: [this.arn, `${this.arn}/*`] }],
      };
    }
  }
  class Secret extends Resource {
    constructor(name: string, placeholder?: string) {
      super("sst.Secret", name, { placeholder });
    }
    getSSTLink() {
      return { properties: { value: "secret" }, include: [] as Permission[] };
    }
  }
  class LambdaFunction extends Resource {
    constructor(name: string, args: Record<string, unknown> = {}) {
      super("sst.aws.Function", name, args);
    }
    get nodes() {
      return { function: { name: `lambda:${this.name}` } };
    }
  }
  class ApiGatewayV2 extends Resource {
    constructor(name: string, args: Record<string, unknown> = {}) {
      super("sst.aws.ApiGatewayV2", name, args);
    }
    addAuthorizer(args: Record<string, unknown>) {
      created.push({ type: "authorizer", name: String(args.name), args });
      return { id: "authorizer" };
    }
    route(key: string, handler: unknown, args: Record<string, unknown>) {
      created.push({ type: "route", name: key, args: { handler, ...args } });
    }
    get nodes() {
      return { api: { id: "api-id" } };
    }
  }
  class Queue extends Resource {
    constructor(name: string, args: Record<string, unknown> = {}) {
      super("sst.aws.Queue", name, args);
    }
    get nodes() {
      return { queue: { name: `queue:${this.name}` } };
    }
  }

  g.$config = (config: unknown) => config;
  g.$app = { name: "align-onboarding", stage: options.stage };
  g.$dev = options.dev ?? false;
  g.$cli = { paths: { root: options.root } };
  g.$interpolate = (strings: TemplateStringsArray, ...values: unknown[]) =>
    strings.reduce((text, part, index) => text + part + (index < values.length ? String(values[index]) : ""), "");
  g.$resolve = (values: unknown[]) => ({ apply: (fn: (v: unknown[]) => unknown) => fn(values) });
  g.sst = {
    Secret,
    Linkable: {
      // As SST's Linkable.wrap: the class's link is replaced for every instance.
      wrap: (cls: { prototype: { getSSTLink: unknown } }, cb: (resource: unknown) => unknown) => {
        created.push({ type: "Linkable.wrap", name: (cls as { name?: string }).name ?? "", args: { cb } });
        cls.prototype.getSSTLink = function (this: unknown) {
          return cb(this);
        };
      },
    },
    aws: {
      Dynamo,
      Function: LambdaFunction,
      ApiGatewayV2,
      Queue,
      CronV2: component("sst.aws.CronV2"),
      SnsTopic: component("sst.aws.SnsTopic"),
    },
  };
  g.aws = {
    dynamodb: { TableItem: component("aws.dynamodb.TableItem") },
    sns: { TopicSubscription: component("aws.sns.TopicSubscription") },
    cloudwatch: {
      MetricAlarm: component("aws.cloudwatch.MetricAlarm"),
      Dashboard: component("aws.cloudwatch.Dashboard"),
    },
  };

  return {
    created,
    of: (type) => created.filter((item) => item.type === type),
    policy(fn) {
      const own = (fn.args.permissions as Permission[] | undefined) ?? [];
      const links = (fn.args.link as { getSSTLink?: () => { include?: Permission[] } }[] | undefined) ?? [];
      // SST: Link.getInclude("aws.permission", args.link) after args.permissions (function.ts createRole).
      const fromLinks = links.flatMap((link) =>
        (link.getSSTLink?.().include ?? []).filter((item) => item.type === "aws.permission"),
      );
      return [...own, ...fromLinks];
    },
  };
}
