/** The secrets port: JSON secrets by ARN. Adapter: `adapters/secrets/secrets-manager.ts`; contract suite: `test/contracts/secrets-manager.test.ts`. */

/**
 * Reads JSON secrets (the database user's `{ username, password }`). Values never reach a
 * log or an error message.
 *
 * @example
 * const { username, password } = await secrets.json(secretArn);
 */
export interface Secrets {
  /** The secret's current value parsed as a JSON object; throws naming the ARN (never the value) when absent or not an object. */
  json(secretArn: string): Promise<Record<string, unknown>>;
}
