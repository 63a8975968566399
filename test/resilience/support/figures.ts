import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';

/** One line of RELIABILITY.md's table: a case family, how many cases it tried and how many passed. */
export interface Figure {
  family: string;
  case: string;
  tried: number;
  passed: number;
  detail?: string;
}

/** Records a figure for the run's summary table (printed when the resilience run ends). */
export function recordFigure(figure: Figure): void {
  appendFileSync(inject('resilienceFiguresFile'), `${JSON.stringify(figure)}\n`);
}
