import { LAMBDA_TASK_ROOT } from './aegis-function.js';

/** The repo's policy folder: SentinelNet's Cedar policies and risk tiers, and the drift configuration (`drift.json`). */
export const POLICIES_FOLDER = 'policies';
/** Where a function whose bundle carries {@link POLICIES_FOLDER} finds it (`AEGIS_POLICIES_DIR`). */
export const POLICIES_DIR = `${LAMBDA_TASK_ROOT}/${POLICIES_FOLDER}`;

/**
 * What a function reading the policy files needs: the folder copied into its bundle, and its
 * path in the environment (`lib/platform/config.ts` reads `AEGIS_POLICIES_DIR`).
 *
 * @example
 * new AegisFunction(this, 'driftStep', { entry, projectRoot, description, ...policiesBundle(environment) });
 */
export function policiesBundle(environment: Readonly<Record<string, string>>): {
  bundleFolders: string[];
  environment: Record<string, string>;
} {
  return { bundleFolders: [POLICIES_FOLDER], environment: { ...environment, AEGIS_POLICIES_DIR: POLICIES_DIR } };
}
