import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLING } from '../../infra/lambda-bundling.ts';

const REPO = resolve(__dirname, '..', '..');
/** Bundles built by earlier starts: tests start many local systems, and most find theirs here. */
export const BUNDLE_CACHE_DIR = join(REPO, 'node_modules', '.cache', 'ocp-local-lambda');
/** Changes whenever the options below do, so a cached bundle is never one built another way. */
const BUILD_OPTIONS_VERSION = 1;

/** A function's bundle on disk, as the stack would deploy it. */
export interface FunctionBundle {
  /** Absolute path of the bundle's ESM file (its source map beside it). */
  file: string;
  /** Whether this start built it (false: an earlier start's bundle, same inputs, was reused). */
  built: boolean;
}

interface CacheManifest {
  version: number;
  file: string;
  /** Each input file (repo-relative) and the SHA-256 of its content when the bundle was built. */
  inputs: Record<string, string>;
}

/**
 * The bundle of each entry file (by function name), built with the stack's options
 * (infra/lambda-bundling.ts) for the Node that runs local mode, or reused from `cacheDir` when none
 * of its input files' contents changed. The stale ones are built together, in one esbuild run.
 */
export async function functionBundles(
  entries: Record<string, string>,
  cacheDir = BUNDLE_CACHE_DIR,
): Promise<Record<string, FunctionBundle>> {
  mkdirSync(cacheDir, { recursive: true });
  const bundles: Record<string, FunctionBundle> = {};
  // The functions share most inputs (the SDK): each file is read and hashed once per call.
  const hashes = new Map<string, string>();
  const stale: Record<string, string> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const cached = readManifest(manifestFile(cacheDir, name));
    if (cached && inputsUnchanged(cached, hashes)) bundles[name] = { file: cached.file, built: false };
    else stale[name] = resolve(REPO, entry);
  }
  if (Object.keys(stale).length === 0) return bundles;

  const staging = join(cacheDir, `build.${process.pid}.${Date.now()}.tmp`);
  const result = await build({
    entryPoints: stale,
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: LAMBDA_BUNDLING.format,
    // The stack targets Lambda's Node; here the Node that runs local mode.
    target: `node${process.versions.node.split('.')[0]}`,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    minify: LAMBDA_BUNDLING.minify,
    banner: { js: LAMBDA_BUNDLING.banner },
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
    logLevel: 'error',
    absWorkingDir: REPO,
  });
  for (const name of Object.keys(stale)) {
    const output = Object.entries(result.metafile.outputs).find(
      ([, out]) => out.entryPoint !== undefined && resolve(REPO, out.entryPoint) === stale[name],
    );
    if (!output) throw new Error(`esbuild wrote no bundle for ${name} (${stale[name]})`);
    const inputs = Object.fromEntries(
      [...reachableInputs(result.metafile, output[1].entryPoint!)].map((input) => [
        input,
        contentHash(resolve(REPO, input), hashes),
      ]),
    );
    const digest = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
    // Another start may be building the same bundle: each writes its own folder, and renames are atomic.
    const folder = join(cacheDir, `${name}-${digest}`);
    mkdirSync(folder, { recursive: true });
    // Named as built: the bundle's sourceMappingURL names its map.
    const file = join(folder, `${name}.mjs`);
    for (const suffix of ['', '.map']) renameSync(join(staging, `${name}.mjs${suffix}`), `${file}${suffix}`);
    const manifest: CacheManifest = { version: BUILD_OPTIONS_VERSION, file, inputs };
    const temporary = `${manifestFile(cacheDir, name)}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(manifest));
    renameSync(temporary, manifestFile(cacheDir, name));
    bundles[name] = { file, built: true };
  }
  rmSync(staging, { recursive: true, force: true });
  return bundles;
}

const manifestFile = (cacheDir: string, name: string) => join(cacheDir, `${name}.json`);

/**
 * Every file the entry imports, directly or not: also those the minifier left no byte of (a constant
 * it inlined), whose change still changes the bundle.
 */
function reachableInputs(metafile: Metafile, entryPoint: string): Set<string> {
  const seen = new Set<string>([entryPoint]);
  const queue = [entryPoint];
  for (let input = queue.pop(); input !== undefined; input = queue.pop()) {
    for (const { path, external } of metafile.inputs[input]?.imports ?? []) {
      if (external || seen.has(path) || !(path in metafile.inputs)) continue;
      seen.add(path);
      queue.push(path);
    }
  }
  return new Set([...seen].filter((input) => !input.includes(':')));
}

function readManifest(file: string): CacheManifest | undefined {
  try {
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as CacheManifest;
    return manifest.version === BUILD_OPTIONS_VERSION ? manifest : undefined;
  } catch {
    return undefined;
  }
}

function inputsUnchanged(manifest: CacheManifest, hashes: Map<string, string>): boolean {
  try {
    if (!existsSync(manifest.file)) return false;
    return Object.entries(manifest.inputs).every(
      ([input, hash]) => contentHash(resolve(REPO, input), hashes) === hash,
    );
  } catch {
    return false;
  }
}

function contentHash(file: string, memo: Map<string, string>): string {
  const known = memo.get(file);
  if (known) return known;
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
  memo.set(file, hash);
  return hash;
}
