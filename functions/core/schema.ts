/**
 * The schema library of every Lambda input: zod's tree-shakable "mini" build, with the English
 * messages that classic zod sets by default. Classic zod bundled whole (~440 KB minified, most of it
 * locales) dominated each function's size and import time; mini adds ~20 KB (see BENCHMARKS.md).
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
