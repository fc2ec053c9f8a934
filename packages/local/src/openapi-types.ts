/**
 * TypeScript types from the OpenAPI document's component schemas, for
 * packages/client: the client's types come from the same document the server
 * is tested against, with no zod (or anything else) in an app's bundle.
 * Covers the JSON Schema the document uses: `$ref`, `oneOf`/`anyOf`, `const`,
 * `enum`, type lists, arrays and closed or open objects.
 */
type Json = Record<string, unknown>;

const literal = (value: unknown) => JSON.stringify(value);
const name = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1);
const key = (property: string) => (/^[A-Za-z_$][\w$]*$/.test(property) ? property : literal(property));

function doc(schema: Json, indent: string): string {
  const description = schema.description;
  return typeof description === "string" ? `${indent}/** ${description.replaceAll("*/", "*\\/")} */\n` : "";
}

function typeOf(schema: Json, indent: string): string {
  if (typeof schema.$ref === "string") return name(schema.$ref);
  const union = (schema.oneOf ?? schema.anyOf) as Json[] | undefined;
  if (union) return union.map((part) => typeOf(part, indent)).join(" | ");
  if ("const" in schema) return literal(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map(literal).join(" | ");
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeOf({ ...schema, type }, indent)).join(" | ");
  switch (schema.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array": {
      const items = typeOf((schema.items as Json | undefined) ?? {}, indent);
      return /[ |]/.test(items) ? `Array<${items}>` : `${items}[]`;
    }
    case "object":
      return objectOf(schema, indent);
    default:
      return "unknown";
  }
}

function objectOf(schema: Json, indent: string): string {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  const inner = `${indent}  `;
  const lines = Object.entries(properties).map(
    ([property, value]) =>
      `${doc(value, inner)}${inner}${key(property)}${required.has(property) ? "" : "?"}: ${typeOf(value, inner)};\n`,
  );
  if (schema.additionalProperties !== false) lines.push(`${inner}[key: string]: unknown;\n`);
  return lines.length === 0 ? "Record<string, never>" : `{\n${lines.join("")}${indent}}`;
}

/**
 * The source of a module with one exported type per component schema.
 *
 * @example
 * ```ts
 * writeFileSync("packages/client/src/api-types.ts", renderApiTypes(JSON.parse(openApiAppDocument())));
 * ```
 */
export function renderApiTypes(document: Json): string {
  const schemas = ((document.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const out = [
    "// Generated from docs/openapi.app.json by `npm run openapi`: do not edit (test/client-types.test.ts checks it).\n",
  ];
  for (const [schemaName, schema] of Object.entries(schemas)) {
    const type = typeOf(schema, "");
    out.push(
      `\n${doc(schema, "")}${type.startsWith("{") ? `export interface ${schemaName} ${type}` : `export type ${schemaName} = ${type};`}\n`,
    );
  }
  return out.join("");
}
