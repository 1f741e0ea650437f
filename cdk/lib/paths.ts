// Locating files of the Tern repository (layer zips, install script) from the package.
import * as fs from 'fs';
import * as path from 'path';

/**
 * The Tern repository root: the nearest directory above this file holding
 * `extension/package.sh`, else the working directory.
 */
export function ternRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'extension', 'package.sh'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return process.cwd();
    }
    dir = parent;
  }
}
