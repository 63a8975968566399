import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, transform } from 'esbuild';

const HERE = __dirname;

export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

/**
 * Builds the web console into `outDir`: index.html, console.js (one minified ES module, no source
 * map) and console.css. Local mode runs it at start, the stack in its Lambda bundling.
 */
export async function buildConsole(outDir: string): Promise<{ files: BuiltFile[] }> {
  mkdirSync(outDir, { recursive: true });
  const script = await build({
    entryPoints: [join(HERE, 'src', 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    sourcemap: false,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const style = await transform(readFileSync(join(HERE, 'console.css'), 'utf8'), {
    loader: 'css',
    minify: true,
  });
  const contents: [string, Uint8Array | string][] = [
    ['index.html', readFileSync(join(HERE, 'index.html'), 'utf8')],
    ['console.js', script.outputFiles[0]!.contents],
    ['console.css', style.code],
  ];
  return {
    files: contents.map(([name, content]) => {
      const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      writeFileSync(join(outDir, name), bytes);
      return { name, bytes: bytes.byteLength, gzipBytes: gzipSync(bytes, { level: 9 }).byteLength };
    }),
  };
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('Usage: node --import tsx console/build.ts <outDir>\n');
    process.exit(2);
  }
  const started = performance.now();
  buildConsole(resolve(outDir)).then(
    ({ files }) => {
      for (const file of files)
        process.stdout.write(`${file.name}\t${file.bytes} B\t${file.gzipBytes} B gzip\n`);
      process.stdout.write(`built in ${Math.round(performance.now() - started)} ms\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
