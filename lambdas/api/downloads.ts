/** The `downloads` API function (lib/platform/http/route-functions.ts): artifactDownload, versionDownload, envDownload. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as artifactDownload } from '../artifact-download.js';
import { handler as versionDownload } from '../version-download.js';
import { handler as envDownload } from '../env-download.js';

export const handler = apiFunction('downloads', { artifactDownload, versionDownload, envDownload });
