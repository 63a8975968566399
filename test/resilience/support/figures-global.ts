import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { Figure } from './figures.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    resilienceFiguresFile: string;
  }
}

/**
 * Gives every resilience test file one file to record its figures in, and prints them as a table
 * when the run ends (also written as JSON to $RESILIENCE_FIGURES_OUT when set).
 */
export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'ocp-resilience-'));
  const file = join(dir, 'figures.jsonl');
  project.provide('resilienceFiguresFile', file);
  return () => {
    const figures: Figure[] = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as Figure)
      : [];
    rmSync(dir, { recursive: true, force: true });
    if (figures.length === 0) return;
    const rows = figures.map(
      (f) => `| ${f.family} | ${f.case} | ${f.tried} | ${f.passed} | ${f.detail ?? ''} |`,
    );
    console.log(
      [
        '',
        '| family | case | tried | passed | detail |',
        '| --- | --- | ---: | ---: | --- |',
        ...rows,
        '',
      ].join('\n'),
    );
    const out = process.env.RESILIENCE_FIGURES_OUT;
    if (out) writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
  };
}
