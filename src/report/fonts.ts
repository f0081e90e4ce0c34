/**
 * The fonts every figure is drawn with: DejaVu Sans (regular and bold), passed to resvg as explicit
 * files so text renders the same on every machine (system font lookup is off). Looked up in
 * `SIL_FONT_DIR`, then in the usual Debian/Fedora/Arch locations.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';

export const FONT_FAMILY = 'DejaVu Sans';

const DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF', '/usr/share/fonts/dejavu-sans-fonts', '/usr/local/share/fonts'];

export interface FontFiles {
  regular: string;
  bold: string;
}

let found: FontFiles | null = null;

export function findFonts(): FontFiles {
  if (found) return found;
  const dirs = process.env.SIL_FONT_DIR ? [process.env.SIL_FONT_DIR, ...DIRS] : DIRS;
  for (const d of dirs) {
    const regular = path.join(d, 'DejaVuSans.ttf');
    const bold = path.join(d, 'DejaVuSans-Bold.ttf');
    if (fs.existsSync(regular)) {
      found = { regular, bold: fs.existsSync(bold) ? bold : regular };
      return found;
    }
  }
  throw new SilError('FONT_NOT_FOUND', `DejaVuSans.ttf not found in ${dirs.join(', ')}; install it (Debian: apt-get install fonts-dejavu-core) or set SIL_FONT_DIR`);
}
