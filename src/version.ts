/** The package's version (package.json), recorded in manifests and file metadata. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const SIL_VERSION: string = (require('../package.json') as { version: string }).version;
