/**
 * How the stack bundles each Lambda function (infra/constructs/lambda-defaults.ts), as plain data so
 * that local mode builds the same artefact without loading the CDK: ESM, minified, `module` before
 * `main`, the AWS SDK bundled (the version the tests ran against, not whichever the runtime ships).
 */
export const LAMBDA_BUNDLING = {
  format: 'esm',
  nodeTarget: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  /** Lets an ESM bundle load a CommonJS dependency that calls require() for a Node built-in. */
  banner:
    "import { createRequire as __projectCreateRequire } from 'node:module'; const require = __projectCreateRequire(import.meta.url);",
} as const;
