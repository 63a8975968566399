/**
 * Structured JSON log lines in Powertools for AWS Lambda's default format: the same keys in the same
 * order (level, message, timestamp, service, sampling_rate, xray_trace_id, then appended keys and the
 * call's own), the same level variables, Error and bigint values written as Powertools writes them,
 * and warnings and errors on stderr. Only the part of Powertools' Logger the functions use: it
 * bundled to ~20 KB of every function, this to ~1 KB (BENCHMARKS.md, issue 15).
 */
import { traceHeaderFields } from './tracer.ts';

const LEVELS = { TRACE: 6, DEBUG: 8, INFO: 12, WARN: 16, ERROR: 20, CRITICAL: 24, SILENT: 28 } as const;
export type LogLevelName = keyof typeof LEVELS;
type LogAttributes = Record<string, unknown>;

/** As Powertools reads the variables: upper case only (`warn` is no level), Lambda's FATAL as CRITICAL. */
function levelNamed(value: string | undefined): LogLevelName | undefined {
  if (value === 'FATAL') return 'CRITICAL';
  return value !== undefined && Object.hasOwn(LEVELS, value) ? (value as LogLevelName) : undefined;
}

/**
 * Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL) win, as Powertools lets them; then
 * POWERTOOLS_LOG_LEVEL, LOG_LEVEL; INFO by default.
 */
function initialLevel(): LogLevelName {
  const env = process.env;
  return (
    levelNamed(env.AWS_LAMBDA_LOG_LEVEL) ?? levelNamed(env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL) ?? 'INFO'
  );
}

/** The Root of the invocation's X-Ray trace header: from Lambda's InvokeStore when it has one, else _X_AMZN_TRACE_ID. */
function xrayTraceId(): string | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } })
    .awslambda?.InvokeStore;
  const header = store?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID ?? '';
  if (header === '') return undefined;
  return header.includes('=') ? traceHeaderFields(header).get('Root') : header;
}

/** Where an error was thrown: the first `(file:line:column)` of its stack, as `file:line`. */
function codeLocation(stack: string | undefined): string {
  for (const line of stack?.split('\n') ?? []) {
    const match = /\(([^()]*?):(\d+?):(\d+?)\)\\?$/.exec(line);
    if (match) return `${match[1]}:${Number(match[2])}`;
  }
  return '';
}

function formattedError(error: Error): LogAttributes {
  const { name, message, stack, cause } = error;
  const formatted: LogAttributes = {
    name,
    location: codeLocation(stack),
    message,
    stack,
    cause: cause instanceof Error ? formattedError(cause) : cause,
  };
  for (const key of Object.keys(error))
    if (!['name', 'message', 'stack', 'cause'].includes(key))
      formatted[key] = (error as unknown as LogAttributes)[key];
  return formatted;
}

/** JSON.stringify's replacer: errors formatted, bigints as strings, circular references left out. */
function jsonReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: unknown[] = [];
  return function (this: unknown, _key, value) {
    const replaced = value instanceof Error ? formattedError(value) : value;
    if (typeof replaced === 'bigint') return replaced.toString();
    if (typeof replaced === 'object' && replaced !== null) {
      while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
      if (ancestors.includes(replaced)) return undefined;
      ancestors.push(replaced);
    }
    return replaced;
  };
}

/** Powertools leaves out keys whose value is undefined, null or the empty string. */
function withoutEmptyValues(attributes: LogAttributes): LogAttributes {
  return Object.fromEntries(
    Object.entries(attributes).filter(([, value]) => value !== undefined && value !== null && value !== ''),
  );
}

export class JsonLogger {
  readonly #service: string;
  readonly #samplingRate: number;
  #level: LogLevelName = initialLevel();
  #keys: LogAttributes = {};

  constructor(options: { serviceName: string }) {
    this.#service = options.serviceName;
    const rate = Number(process.env.POWERTOOLS_LOGGER_SAMPLE_RATE ?? 0);
    this.#samplingRate = rate >= 0 && rate <= 1 ? rate : 0;
  }

  info(message: string, attributes?: LogAttributes): void {
    this.#write('INFO', message, attributes);
  }

  warn(message: string, attributes?: LogAttributes): void {
    this.#write('WARN', message, attributes);
  }

  error(message: string, attributes?: LogAttributes): void {
    this.#write('ERROR', message, attributes);
  }

  /** Keys written on every later line until resetKeys. */
  appendKeys(attributes: LogAttributes): void {
    this.#keys = { ...this.#keys, ...attributes };
  }

  resetKeys(): void {
    this.#keys = {};
  }

  getLevelName(): LogLevelName {
    return this.#level;
  }

  setLogLevel(level: LogLevelName): void {
    this.#level = level;
  }

  #write(level: 'INFO' | 'WARN' | 'ERROR', message: string, attributes: LogAttributes = {}): void {
    if (LEVELS[level] < LEVELS[this.#level]) return;
    const line = withoutEmptyValues({
      level,
      message,
      timestamp: new Date().toISOString(),
      service: this.#service,
      sampling_rate: this.#samplingRate,
      xray_trace_id: xrayTraceId(),
      ...this.#keys,
      ...attributes,
    });
    const stream = level === 'INFO' ? process.stdout : process.stderr;
    stream.write(`${JSON.stringify(line, jsonReplacer())}\n`);
  }
}
