import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildConsole } from './build.ts';

const REPO = resolve(__dirname, '..');

/**
 * The consoleAssets function's files: the built console and the committed OpenAPI document. Local
 * mode builds them at start; the stack's bundling runs this file as a command into the bundle.
 */
export async function buildStaticAssets(outDir: string): Promise<void> {
  await buildConsole(outDir);
  copyFileSync(join(REPO, 'openapi.json'), join(outDir, 'openapi.json'));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(__filename)) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('Usage: node --import tsx console/static-assets.ts <outDir>');
    process.exit(2);
  }
  buildStaticAssets(resolve(outDir)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
