import { LAMBDA_TASK_ROOT } from './aegis-function.js';

/** The repo's policy folder: SentinelNet's Cedar policies and risk tiers, and the drift configuration (`drift.json`). */
export const POLICIES_FOLDER = 'policies';
/** Where a function whose bundle carries {@link POLICIES_FOLDER} finds it (`AEGIS_POLICIES_DIR`). */
export const POLICIES_DIR = `${LAMBDA_TASK_ROOT}/${POLICIES_FOLDER}`;

/** The drift configuration in the repo, and where a function whose bundle carries it finds it (`AEGIS_DRIFT_POLICY`). */
export const DRIFT_POLICY_FILE = `${POLICIES_FOLDER}/drift.json`;
export const DRIFT_POLICY_PATH = `${LAMBDA_TASK_ROOT}/drift.json`;

/**
 * What a function reading the drift configuration needs: `policies/drift.json` alone copied into
 * its bundle (beside index.mjs; not SentinelNet's policies) and its path as `AEGIS_DRIFT_POLICY`.
 *
 * @example
 * new AegisFunction(this, 'driftStep', { entry, projectRoot, description, ...driftPolicyBundle(environment) });
 */
export function driftPolicyBundle(environment: Readonly<Record<string, string>>): {
  bundleFiles: string[];
  environment: Record<string, string>;
} {
  return { bundleFiles: [DRIFT_POLICY_FILE], environment: { ...environment, AEGIS_DRIFT_POLICY: DRIFT_POLICY_PATH } };
}
