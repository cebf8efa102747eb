import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The nearest folder at or above `start` that holds a package.json (the root when none does):
 * the repo from the sources, the package when code runs bundled from `dist/`, a dependency's
 * own folder from its entry file.
 */
export function packageDir(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
