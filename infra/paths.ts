import { fileURLToPath } from 'node:url';

/** Absolute path of a file given relative to the repository root. */
export const repoPath = (relative: string): string =>
  fileURLToPath(new URL(`../${relative}`, import.meta.url));
