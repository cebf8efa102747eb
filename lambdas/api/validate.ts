/** The `validate` API function (lib/platform/http/route-functions.ts): versionValidate, artifactValidate. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as versionValidate } from '../version-validate.js';
import { handler as artifactValidate } from '../artifact-validate.js';

export const handler = apiFunction('validate', { versionValidate, artifactValidate });
