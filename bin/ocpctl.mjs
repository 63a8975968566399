#!/usr/bin/env node
// ocpctl's launcher: runs the TypeScript CLI (cli/ocpctl.ts) in this process through tsx's loaders.
import { register as registerCommonJs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCommonJs();
registerEsm();
await import(new URL('../cli/ocpctl.ts', import.meta.url).href);
