/** The package's name and version (package.json), recorded in manifests and file metadata. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../package.json') as { name: string; version: string };

export const SIL_VERSION: string = pkg.version;
export const SIL_PACKAGE_NAME: string = pkg.name;
