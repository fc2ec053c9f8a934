/**
 * `npm run --silent token -- <sub> [ttl-seconds]`: prints a token the local
 * API accepts for that subject, and nothing else.
 */
import { signToken } from "../jwt.js";
import { LocalDefaults } from "../stack.js";

const [sub, ttl] = process.argv.slice(2);
if (!sub) {
  console.error("usage: npm run --silent token -- <sub> [ttl-seconds]");
  process.exit(2);
}
const ttlSeconds = ttl === undefined ? 24 * 60 * 60 : Number(ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  console.error("ttl-seconds must be a positive integer");
  process.exit(2);
}
const settings = {
  secret: process.env.LOCAL_JWT_SECRET || LocalDefaults.jwt.secret,
  issuer: process.env.JWT_ISSUER || LocalDefaults.jwt.issuer,
  audience: process.env.JWT_AUDIENCE || LocalDefaults.jwt.audience,
};
process.stdout.write(`${signToken(settings, sub, ttlSeconds)}\n`);
