/**
 * The simulation judges answers by its own copy of the finality rule
 * (test/simulation/finality.ts), independent of the code it tests; on
 * today's code the two must agree for every problem code.
 */
import { type ProblemCode, Problems } from "@align-onboarding/core";
import { expect, it } from "vitest";
import { FINALITY, finality } from "./simulation/finality.js";

it("the simulation's finality table agrees with the production's Problems for every code that runs a key", () => {
  const codes = Object.keys(Problems) as ProblemCode[];
  expect(Object.keys(FINALITY).sort()).toEqual([...codes].sort());
  const disagreements = codes
    .filter((code) => FINALITY[code] !== "before_running")
    .filter((code) => (FINALITY[code] === "final") !== Problems[code].final);
  expect(disagreements).toEqual([]);
  // Both kinds occur, so the comparison is not vacuous.
  expect(codes.some((code) => FINALITY[code] === "final")).toBe(true);
  expect(codes.some((code) => FINALITY[code] === "may_change")).toBe(true);
});

it("a code named like a built-in property is judged as an unknown refusal (final), not looked up on a prototype", () => {
  for (const code of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    expect(finality({ status: 409, headers: {}, body: { code } }), code).toBe("final");
  }
  // A known code is still judged by the table.
  expect(finality({ status: 503, headers: {}, body: { code: "service_unavailable" } })).toBe("may_change");
  expect(finality({ status: 409, headers: {}, body: { code: "idempotency_key_reused" } })).toBe("before_running");
});
