import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './stats.ts';

export const PART_IDS = [
  'api',
  'cold-start',
  'orchestration',
  'fleet',
  'cost',
  'sweep',
  'list',
  'console',
] as const;
export type PartId = (typeof PART_IDS)[number];

/** One measured figure, with its budget when it has one (pass: value ≤ max). */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  budget?: { max: number; text?: string };
}

/** What one part of the benchmark measured, how, where and when. */
export interface PartResult {
  id: PartId;
  title: string;
  command: string;
  machine: MachineInfo;
  seconds: number;
  figures: Figure[];
  /** Markdown: how it was measured. */
  method: string;
  /** Markdown blocks: tables of details, findings. */
  details: string[];
}

const REPO = join(__dirname, '..');
const RESULTS_FILE = join(REPO, 'bench', 'results.json');
const BENCHMARKS_FILE = join(REPO, 'BENCHMARKS.md');

export const passes = (figure: Figure) => (figure.budget ? figure.value <= figure.budget.max : undefined);

export function formatValue(figure: Pick<Figure, 'value' | 'unit'>): string {
  const { value, unit } = figure;
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit === '$' ? `$${text}` : unit === '×' ? `${text}×` : unit ? `${text} ${unit}` : text;
}

function budgetText(figure: Figure): string {
  if (!figure.budget) return '';
  return figure.budget.text ?? `≤ ${formatValue({ value: figure.budget.max, unit: figure.unit })}`;
}

const mark = (figure: Figure) => {
  const pass = passes(figure);
  return pass === undefined ? '' : pass ? 'PASS' : 'FAIL';
};

/** The table printed on the terminal: part, figure, value, budget, pass/fail. */
export function consoleTable(results: readonly PartResult[]): string {
  const rows = results.flatMap((result) =>
    result.figures.map((figure) => [
      result.id,
      figure.name,
      formatValue(figure),
      budgetText(figure),
      mark(figure),
    ]),
  );
  const header = ['part', 'figure', 'value', 'budget', ''];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Keeps the latest result of every part, so that running one part updates only its figures. */
export function saveResults(results: readonly PartResult[]): PartResult[] {
  const previous: PartResult[] = existsSync(RESULTS_FILE)
    ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as PartResult[])
    : [];
  const byId = new Map(previous.map((result) => [result.id, result]));
  for (const result of results) byId.set(result.id, result);
  const merged = PART_IDS.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  writeFileSync(RESULTS_FILE, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}

const machineLine = (machine: MachineInfo) =>
  `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, load average ${machine.loadAverage} at start`;

/** Writes BENCHMARKS.md from the latest result of every part. */
export function writeBenchmarks(results: readonly PartResult[], preamble: string, appendix: string): void {
  const summary = [
    '| part | figure | value | budget | result |',
    '| --- | --- | --- | --- | --- |',
    ...results.flatMap((result) =>
      result.figures.map(
        (figure) =>
          `| ${result.id} | ${figure.name} | ${formatValue(figure)} | ${budgetText(figure)} | ${mark(figure)} |`,
      ),
    ),
  ].join('\n');
  const sections = results.map((result) =>
    [
      `## ${result.title}`,
      '',
      `- Command: \`${result.command}\` (this part took ${Math.round(result.seconds)} s)`,
      `- Machine: ${machineLine(result.machine)}`,
      `- Date: ${result.machine.date}, commit ${result.machine.commit}`,
      '',
      '| figure | value | budget | result |',
      '| --- | --- | --- | --- |',
      ...result.figures.map(
        (figure) => `| ${figure.name} | ${formatValue(figure)} | ${budgetText(figure)} | ${mark(figure)} |`,
      ),
      '',
      '### Method',
      '',
      result.method.trim(),
      ...result.details.flatMap((block) => ['', block.trim()]),
    ].join('\n'),
  );
  writeFileSync(
    BENCHMARKS_FILE,
    [preamble.trim(), '## Latest figures', summary, ...sections, appendix.trim()].join('\n\n').concat('\n'),
  );
}
