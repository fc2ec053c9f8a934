/**
 * Characters no identifying or stored string may hold: C0 and C1 controls
 * (NUL, CR and LF among them) and DEL, the Unicode line and paragraph
 * separators, and the bidi embedding, override and isolate controls
 * (U+202A-U+202E, U+2066-U+2069), which make one text display as another.
 */
const REFUSED = "\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069";

/**
 * Text without the characters above and without lone surrogates, as a
 * JSON Schema (ECMA-262) pattern. A lone surrogate has no UTF-8 form: the
 * SDK, a hash or Align would store U+FFFD instead, so two different strings
 * would become one. Correct with and without the `u` flag (a pair is one code
 * point with it, two code units matched by the second branch without).
 */
export const WELL_FORMED_TEXT_PATTERN = `^(?:[^${REFUSED}\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$`;

const WELL_FORMED_TEXT = new RegExp(WELL_FORMED_TEXT_PATTERN, "u");

/** Whether `text` has no refused character and no lone surrogate (see {@link WELL_FORMED_TEXT_PATTERN}). */
export function isWellFormedText(text: string): boolean {
  return WELL_FORMED_TEXT.test(text);
}

/** A JWT `sub` longer than this is no subject any identity provider issues. */
export const MAX_SUBJECT_LENGTH = 512;

/**
 * Whether a `sub` claim can identify one caller and only one: a string of at
 * most {@link MAX_SUBJECT_LENGTH} well-formed characters without U+FFFD (the
 * mark a lossy decode leaves where a lone surrogate or a bad byte was, so two
 * subjects may already have become one). Blankness is the handler's check.
 */
export function isWellFormedSubject(sub: unknown): sub is string {
  return (
    typeof sub === "string" && sub.length <= MAX_SUBJECT_LENGTH && isWellFormedText(sub) && !sub.includes("\uFFFD")
  );
}
