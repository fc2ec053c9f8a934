/** The floor for cold-start measurements: a handler that does nothing. */
export const handler = async () => ({ statusCode: 200, body: "" });
