import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A pattern to compile, and optionally a value to match against it. */
export interface Probe {
  pattern: string;
  value?: string;
}

export const hasGo = spawnSync('go', ['version']).status === 0;
export const hasJava = spawnSync('java', ['-version']).status === 0;

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Go's regexp (the SSM Agent's engine), one process for all probes: per probe "E <error>", "ok",
 * or "1"/"0" (MatchString).
 */
export function goVerdicts(probes: Probe[]): Promise<string[]> {
  return verdicts('go', ['run', 'go-match.go'], probes);
}

/**
 * java.util.regex (the engine SSM's service side is taken to use), one process for all probes: per
 * probe "E <error>", "ok", or two digits for find() and matches().
 */
export function javaVerdicts(probes: Probe[]): Promise<string[]> {
  return verdicts('java', ['JavaMatch.java'], probes);
}

function verdicts(command: string, args: string[], probes: Probe[]): Promise<string[]> {
  const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const input = probes
    .map(({ pattern, value }) =>
      value === undefined ? encode(pattern) : `${encode(pattern)}\t${encode(value)}`,
    )
    .join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.split('\n').slice(0, -1);
      if (code !== 0 || lines.length !== probes.length) {
        reject(
          new Error(`${command} ${args.join(' ')} exited ${code} with ${lines.length} answers: ${stderr}`),
        );
      } else {
        resolve(lines);
      }
    });
    child.stdin.end(`${input}\n`);
  });
}
