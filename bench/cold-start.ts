import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { ENV, LAMBDA_FUNCTIONS, type LambdaFunctionId } from '../functions/catalog.ts';
import type { BenchContext } from './context.ts';
import type { Figure, PartResult } from './report.ts';
import { machineInfo, median, round } from './stats.ts';

const REPO = join(__dirname, '..');
const IMPORT_RUNS = 15;
/** Issue 15: the api bundle may add at most this much to its SDK-only baseline (both minified). */
const API_BUNDLE_OVER_BASELINE_KB = 80;
const IMPORT_RATIO_BUDGET = 1.2;

/**
 * The stack's bundling (infra/constructs/lambda-defaults.ts): ESM, minified, the AWS SDK bundled,
 * `module` before `main`, and its banner. Target node20 because the measuring Node is 20 (the stack
 * targets node24); no source map, so the size is the code's.
 */
const STACK_BUNDLING: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  mainFields: ['module', 'main'],
  sourcemap: false,
  metafile: true,
  logLevel: 'error',
  banner: {
    js: "import { createRequire as __projectCreateRequire } from 'node:module'; const require = __projectCreateRequire(import.meta.url);",
  },
};

/** The variables whose dummy value must still parse: the functions read these at import. */
const IMPORT_VALUES: Partial<Record<string, string>> = {
  [ENV.commandDocuments]: '{}',
  [ENV.taskIdBlockTasks]: '8',
};

/** Dummy values for every variable the functions read: importing must not need real ones. */
const IMPORT_ENV = {
  ...Object.fromEntries(Object.values(ENV).map((name) => [name, IMPORT_VALUES[name] ?? 'bench'])),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

/**
 * Imports the bundle in this fresh process and prints the time it took and the number of network
 * connections attempted meanwhile (must be 0).
 */
const IMPORT_PROBE = `
const net = require('node:net');
let connects = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) { connects++; return connect.apply(this, args); };
const started = performance.now();
import(process.argv[1]).then(() => {
  process.stdout.write(JSON.stringify({ ms: performance.now() - started, connects }));
});
`;

interface Bundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  metafile: Metafile;
}

async function bundle(outfile: string, source: { entry: string } | { contents: string }): Promise<Bundle> {
  const result = await build({
    ...STACK_BUNDLING,
    outfile,
    ...('entry' in source
      ? { entryPoints: [join(REPO, source.entry)] }
      : { stdin: { contents: source.contents, resolveDir: REPO, sourcefile: 'baseline.ts', loader: 'ts' } }),
  });
  const code = readFileSync(outfile);
  return {
    file: outfile,
    bytes: statSync(outfile).size,
    gzipBytes: gzipSync(code).length,
    metafile: result.metafile!,
  };
}

/** Value imports from `@aws-sdk/*` in the product's own files of a bundle, by package. */
function sdkImports(metafile: Metafile): Map<string, Set<string>> {
  const byPackage = new Map<string, Set<string>>();
  const statement = /import\s+(type\s+)?\{([^}]*)\}\s+from\s+'(@aws-sdk\/[^']+)'/g;
  for (const input of Object.keys(metafile.inputs)) {
    if (input.includes('node_modules') || !input.endsWith('.ts')) continue;
    const source = readFileSync(join(REPO, input), 'utf8');
    for (const [, typeOnly, names, pkg] of source.matchAll(statement)) {
      if (typeOnly) continue;
      const values = names!
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name && !name.startsWith('type '))
        .map((name) => name.split(/\s+as\s+/)[0]!.trim());
      if (values.length === 0) continue;
      const set = byPackage.get(pkg!) ?? new Set<string>();
      for (const value of values) set.add(value);
      byPackage.set(pkg!, set);
    }
  }
  return byPackage;
}

/** A module importing exactly the SDK names the function imports and creating its clients, as the function does. */
function baselineSource(imports: Map<string, Set<string>>): string {
  const lines: string[] = [];
  const used: string[] = [];
  let n = 0;
  for (const [pkg, names] of imports) {
    const aliases = [...names].map((name) => [name, `sdk${n++}`] as const);
    lines.push(
      `import { ${aliases.map(([name, alias]) => `${name} as ${alias}`).join(', ')} } from '${pkg}';`,
    );
    for (const [name, alias] of aliases) {
      used.push(alias);
      if (/^[A-Z]\w*Client$/.test(name)) lines.push(`export const client${alias} = new ${alias}({});`);
    }
  }
  lines.push(`export const used = [${used.join(', ')}];`);
  return lines.join('\n');
}

function importOnce(file: string): number {
  const child = spawnSync(
    process.execPath,
    ['--disable-warning=NodeVersionSupportWarning', '-e', IMPORT_PROBE, pathToFileURL(file).href],
    { env: { PATH: process.env.PATH ?? '', ...IMPORT_ENV }, encoding: 'utf8', timeout: 30_000 },
  );
  if (child.status !== 0) throw new Error(`Importing ${file} failed: ${child.stderr}`);
  const { ms, connects } = JSON.parse(child.stdout) as { ms: number; connects: number };
  if (connects !== 0) throw new Error(`Importing ${file} opened ${connects} network connection(s)`);
  return ms;
}

/** Bytes by package (node_modules) or product folder. */
function bytesByOwner(metafile: Metafile): Map<string, number> {
  const output = Object.values(metafile.outputs)[0]!;
  const byOwner = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    const owner = pkg ?? `${path.split('/').slice(0, -1).join('/')}/ (product)`;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + bytesInOutput);
  }
  return byOwner;
}

/** What the function bundles beyond its baseline, largest first. */
function beyondBaseline(fn: Metafile, base: Metafile, top = 6): string {
  const baseline = bytesByOwner(base);
  return [...bytesByOwner(fn)]
    .map(([owner, bytes]) => [owner, bytes - (baseline.get(owner) ?? 0)] as const)
    .filter(([, extra]) => extra > 1024)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([owner, extra]) => `${owner} ${round(extra / 1024)} KB`)
    .join(', ');
}

/** An SDK package bundled far beyond the baseline's share: code esbuild could not tree-shake. */
function extraSdk(fn: Metafile, base: Metafile): string {
  const baseline = bytesByOwner(base);
  const bloated = [...bytesByOwner(fn)].filter(
    ([owner, bytes]) =>
      owner.startsWith('@aws-sdk/client-') && bytes - (baseline.get(owner) ?? 0) > 10 * 1024,
  );
  const lazy = Object.entries(fn.inputs).flatMap(([path, input]) =>
    path.includes('node_modules')
      ? []
      : input.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path),
  );
  const why = lazy.length
    ? `the function loads ${lazy.join(', ')} through a dynamic \`import()\` (so that cold starts skip it), and esbuild cannot tree-shake what a lazily loaded module reaches in a single-file bundle, so every command of the client is kept`
    : 'esbuild kept more of it than the same imports need';
  return bloated
    .map(
      ([owner, bytes]) =>
        `${owner} takes ${round(bytes / 1024)} KB here against ${round((baseline.get(owner) ?? 0) / 1024)} KB in the baseline: ${why}. `,
    )
    .join('');
}

/** Bytes in the bundle by package (node_modules) or product folder. */
function composition(metafile: Metafile, top = 6): string {
  const output = Object.values(metafile.outputs)[0]!;
  const byOwner = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    const owner = pkg ?? `${path.split('/').slice(0, -1).join('/')}/ (product)`;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + bytesInOutput);
  }
  return [...byOwner]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([owner, bytes]) => `${owner} ${round(bytes / 1024)} KB`)
    .join(', ');
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'ocp-bench-bundles-'));
  const figures: Figure[] = [];
  const rows: string[] = [];
  const compositions: string[] = [];
  const findings: string[] = [];
  try {
    for (const id of Object.keys(LAMBDA_FUNCTIONS) as LambdaFunctionId[]) {
      const fn = await bundle(join(dir, id, 'index.mjs'), { entry: LAMBDA_FUNCTIONS[id].entry });
      const imports = sdkImports(fn.metafile);
      const base = await bundle(join(dir, id, 'baseline.mjs'), { contents: baselineSource(imports) });
      context.log(
        `cold-start: ${id} ${round(fn.bytes / 1024)} KB, importing ${IMPORT_RUNS}× beside its baseline`,
      );
      const fnTimes: number[] = [];
      const baseTimes: number[] = [];
      for (let i = 0; i < IMPORT_RUNS; i++) {
        // Interleaved, so that a noisy moment hits both alike.
        fnTimes.push(importOnce(fn.file));
        baseTimes.push(importOnce(base.file));
      }
      const fnMs = median(fnTimes);
      const baseMs = median(baseTimes);
      // Each run is paired with the baseline run beside it, which saw the same machine load.
      const ratio = median(fnTimes.map((ms, i) => ms / baseTimes[i]!));
      figures.push(
        { name: `${id} import (median of ${IMPORT_RUNS})`, value: round(fnMs), unit: 'ms' },
        {
          name: `${id} import ÷ SDK baseline`,
          value: round(ratio, 2),
          unit: '×',
          // A function without SDK clients has a baseline of almost nothing: its ratio says nothing, its time does.
          ...(imports.size > 0 ? { budget: { max: IMPORT_RATIO_BUDGET } } : {}),
        },
      );
      if (id === 'api') {
        const budgetKb = round(base.bytes / 1024 + API_BUNDLE_OVER_BASELINE_KB);
        figures.push(
          {
            name: 'api bundle (minified)',
            value: round(fn.bytes / 1024),
            unit: 'KB',
            budget: { max: budgetKb },
          },
          { name: 'api SDK baseline bundle (minified)', value: round(base.bytes / 1024), unit: 'KB' },
        );
        if (fn.bytes / 1024 > budgetKb) {
          const own = (fn.bytes - base.bytes) / 1024;
          findings.push(
            `**Why the api bundle misses its budget (SDK baseline + ${API_BUNDLE_OVER_BASELINE_KB} KB = ${budgetKb} KB).** Its SDK baseline alone — the names the function imports from ${[...imports.keys()].join(', ')}, bundled the same way — is ${round(base.bytes / 1024)} KB; the rest takes ${round(own)} KB: ${beyondBaseline(fn.metafile, base.metafile)}. ${extraSdk(fn.metafile, base.metafile)}`,
          );
        }
      }
      rows.push(
        `| ${id} | ${round(fn.bytes / 1024)} | ${round(fn.gzipBytes / 1024)} | ${round(fnMs)} | ${round(base.bytes / 1024)} | ${round(base.gzipBytes / 1024)} | ${round(baseMs)} | ${round(ratio, 2)} | ${[...imports.keys()].map((pkg) => pkg.replace('@aws-sdk/', '')).join(', ')} |`,
      );
      compositions.push(`- **${id}**: ${composition(fn.metafile)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    id: 'cold-start',
    title: 'Cold start: bundle size and import time of each Lambda function',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
Each entry of \`LAMBDA_FUNCTIONS\` (functions/catalog.ts) is bundled with esbuild as the stack bundles it
(infra/constructs/lambda-defaults.ts): ESM, platform node, minified, \`mainFields: ['module', 'main']\`, the
AWS SDK bundled, the stack's \`createRequire\` banner, the package.json \`imports\` aliases resolved by
esbuild; target node20 because the measuring Node is 20 (the stack targets node24), source map off so
the size is the code's. Its **baseline** is a bundle built the same way from a module that imports exactly
the \`@aws-sdk/*\` names the function's own source files import (found in the function's esbuild metafile)
and creates its SDK clients, as the function's modules do at load: the unavoidable SDK cost.

Import time: a fresh \`node -e\` process per run imports the bundle (\`import(url)\`, timed inside the
process, so Node's own start-up is excluded), with dummy values for the functions' environment
variables; the probe counts socket connections and fails the run if importing opens any. ${IMPORT_RUNS} runs
of the function interleaved with ${IMPORT_RUNS} of its baseline; medians reported. The ratio is the median
of the ${IMPORT_RUNS} ratios of each run to the baseline run beside it, which saw the same machine load. Sizes in KB of 1,024 bytes;
gzip at zlib's default level.
`,
    details: [
      `| function | bundle KB | gzip KB | import ms | baseline KB | baseline gzip KB | baseline import ms | import ÷ baseline | SDK packages |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`,
      `What each bundle is made of (esbuild metafile, largest first):\n\n${compositions.join('\n')}`,
      ...findings,
      `**Fixed here:** every function imported classic zod through \`import { z } from 'zod'\`, which bundles all of zod with every locale (444 KB of the api bundle's 928 KB; the functions that validate input were 886–928 KB, and in a side probe importing that zod alone took ~23 ms against ~6 ms for zod/mini). They then imported \`zod/mini\` (27 KB of the api bundle); now they parse with functions/core/schema.ts, the part of zod/mini's API they use with zod's rules and English messages (~6 KB; test/core/schema.test.ts parses the same inputs with both and compares every issue), and no function bundles zod. The OpenAPI document's JSON Schemas are still zod's: functions/http/zod-mirror.ts builds the same schemas in zod/mini for its writer.`,
    ],
  };
}
