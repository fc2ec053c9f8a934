/** The log guard itself must catch what it claims to (else the suite-wide check proves nothing). */
import { describe, expect, it } from "vitest";
import { findLeaks } from "./support/log-guard.js";

describe("log guard", () => {
  it("flags secrets, JWTs, emails and names, and passes ids and codes", () => {
    const leaky = [
      '{"message":"x","key":"sandbox-key"}',
      '{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLWEifQ.sig"}',
      '{"email":"alice@example.com"}',
      '{"name":"Ada Lovelace"}',
    ];
    const clean = ['{"level":"info","customer_id":"123e4567-e89b-12d3-a456-426614174000","code":"validation_failed"}'];
    expect(findLeaks([...leaky, ...clean])).toEqual(leaky);
  });

  it("the functions' logs of a real flow were captured (so the check has something to check)", async () => {
    const { startTestStack, individual } = await import("./support/stack.js");
    const t = await startTestStack();
    try {
      await t.api("POST", "/customers", { body: individual("guard@example.com") });
      await t.api("POST", "/customers", { body: { email: "nope", type: "individual", first_name: "Ada" } });
      expect(t.logs.some((line) => line.includes('"event":"customer_created"'))).toBe(true);
    } finally {
      await t.close();
    }
  });
});
