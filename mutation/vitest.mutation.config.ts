import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";
// @ts-expect-error: a plain ES module without types, shared with stryker.config.mjs
import { groups } from "./groups.mjs";

const name = process.env.MUTATE_GROUP ?? "idempotency";
const group = (groups as Record<string, { tests: string[] }>)[name];
if (!group) throw new Error(`unknown mutation group ${name}`);

// The base config with only this group's tests.
export default defineConfig({ ...base, test: { ...base.test, include: group.tests } });
