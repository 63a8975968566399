import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const CONSOLE_DIR = dirname(fileURLToPath(import.meta.url));

/** Builds the console into outDir: index.html, console.js (one minified ES module), console.css. */
export async function buildConsole(
  outDir: string,
): Promise<{ files: { name: string; bytes: number; gzipBytes: number }[] }> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(CONSOLE_DIR, 'src', 'main.ts')],
    outfile: join(outDir, 'console.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    logLevel: 'warning',
  });
  copyFileSync(join(CONSOLE_DIR, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(CONSOLE_DIR, 'console.css'), join(outDir, 'console.css'));
  const files = ['index.html', 'console.js', 'console.css'].map((name) => {
    const path = join(outDir, name);
    return { name, bytes: statSync(path).size, gzipBytes: gzipSync(readFileSync(path)).length };
  });
  return { files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('Usage: node --import tsx console/build.ts <outDir>');
    process.exit(2);
  }
  buildConsole(resolve(outDir)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
