import { createHash } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ExecutionStatus, HistoryEvent } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import type { JsonValue } from '#local/services/step-functions-tasks';

/** What is kept of an execution: everything Describe, History, List and Redrive answer from. */
export interface StoredExecution {
  executionArn: string;
  name: string;
  input: string;
  startDate: Date;
  stopDate?: Date;
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
  redriveCount: number;
  redriveDate?: Date;
  history: HistoryEvent[];
  /** The Map Run that started this execution (a Distributed Map state's child execution)... */
  mapRunArn?: string;
  /** ...for the item of this index. */
  mapRunIndex?: number;
  /** The last top-level state entered, where a redrive resumes. */
  resumePoint?: { name: string; input: JsonValue };
}

export interface ExecutionStoreOptions {
  /** How long changes are gathered before they are written (default 25 ms). */
  writeDelayMs?: number;
  /** The clock that decides which closed executions are past retention. */
  now?: () => Date;
}

/** Error and cause of an execution that was open when local mode's process ended. */
export const INTERRUPTED_ERROR = 'States.Runtime';
export const interruptedCause = (stateName: string | undefined) =>
  stateName === undefined
    ? 'Local mode stopped before the execution entered a state.'
    : `Local mode stopped while the execution ran (in state "${stateName}"); its run ended with the process. RedriveExecution resumes it at that state.`;

/** Step Functions keeps a closed execution, and so its name, for 90 days. */
const RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
const DEFAULT_WRITE_DELAY_MS = 25;
const FORMAT = 1;
const LOG_SUFFIX = '.jsonl';
const OPEN_STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'PENDING_REDRIVE'];

const HeaderLine = z.object({
  type: z.literal('execution'),
  format: z.literal(FORMAT),
  executionArn: z.string(),
  name: z.string(),
  input: z.string(),
  startDate: z.iso.datetime(),
  mapRunArn: z.string().optional(),
  mapRunIndex: z.number().int().min(0).optional(),
});
const EventLine = z.object({
  type: z.literal('event'),
  event: z.looseObject({ id: z.number().int(), type: z.string(), timestamp: z.iso.datetime() }),
});
const StatusLine = z.object({
  type: z.literal('status'),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
  stopDate: z.iso.datetime().optional(),
  output: z.string().optional(),
  error: z.string().optional(),
  cause: z.string().optional(),
  redriveCount: z.number().int().min(0),
  redriveDate: z.iso.datetime().optional(),
  resumePoint: z.object({ name: z.string(), input: z.json() }).optional(),
});
const BodyLine = z.discriminatedUnion('type', [EventLine, StatusLine]);

/** What the store knows of one execution's file. */
interface LogFile {
  path: string;
  eventsWritten: number;
  /** The last status line written. */
  status: string;
  /** Write the whole file anew (to a temporary file, then renamed) rather than append. */
  rewrite: boolean;
}

/**
 * Keeps a local Step Functions' executions on disk, so that they outlive the process: one append-only
 * JSON-lines file per execution (a header, then each history event and each change of status once).
 * Changes are gathered for a few milliseconds and appended in one write, so a fleet's thousands of
 * events cost a few hundred small appends. A new or damaged file is written whole to a temporary file
 * and renamed; a crash can only tear the last appended line, which loading ignores.
 */
export class ExecutionStore {
  private readonly files = new Map<string, LogFile>();
  private readonly pending = new Map<string, StoredExecution>();
  private readonly writeDelayMs: number;
  private readonly now: () => Date;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    /** The folder of the execution logs. */
    readonly dir: string,
    private readonly options: ExecutionStoreOptions = {},
  ) {
    this.writeDelayMs = options.writeDelayMs ?? DEFAULT_WRITE_DELAY_MS;
    this.now = options.now ?? (() => new Date());
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Every execution saved, oldest first. One that was still open was run by a process that has ended,
   * and is recorded FAILED (see {@link failInterrupted}); one closed over 90 days ago is deleted.
   */
  load(): StoredExecution[] {
    const loaded: StoredExecution[] = [];
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      // Folders hold other machines' stores (see nested).
      if (!entry.isFile()) continue;
      const fileName = entry.name;
      const path = join(this.dir, fileName);
      // A rewrite that did not reach its rename: the file it was replacing is still whole.
      if (fileName.endsWith('.tmp')) rmSync(path, { force: true });
      if (!fileName.endsWith(LOG_SUFFIX)) continue;
      const replayed = replay(readFileSync(path, 'utf8'));
      if (!replayed) {
        renameSync(path, `${path}.unreadable`);
        console.error(`Local Step Functions: ${path} is not an execution log; set aside as .unreadable`);
        continue;
      }
      const { execution, whole } = replayed;
      const interrupted = OPEN_STATUSES.includes(execution.status);
      if (interrupted) failInterrupted(execution);
      if (execution.stopDate && this.now().getTime() - execution.stopDate.getTime() > RETENTION_MS) {
        rmSync(path, { force: true });
        continue;
      }
      this.files.set(execution.executionArn, {
        path,
        eventsWritten: whole ? execution.history.length : 0,
        status: whole ? statusLine(execution) : '',
        rewrite: !whole,
      });
      if (interrupted || !whole) this.write(execution);
      loaded.push(execution);
    }
    return loaded.sort((a, b) => a.startDate.getTime() - b.startDate.getTime());
  }

  /** A store in a folder of this one's, for another machine's executions (a Distributed Map's children). */
  nested(name: string): ExecutionStore {
    return new ExecutionStore(join(this.dir, name), this.options);
  }

  /** The execution changed (an event, its status, its resume point): it is written shortly. */
  changed(execution: StoredExecution): void {
    if (this.closed) return;
    this.pending.set(execution.executionArn, execution);
    this.timer ??= setTimeout(() => this.flush(), this.writeDelayMs);
  }

  /** The execution is forgotten: its file is deleted. */
  forget(executionArn: string): void {
    this.pending.delete(executionArn);
    this.files.delete(executionArn);
    rmSync(join(this.dir, logFileName(executionArn)), { force: true });
  }

  /** Writes every pending change now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const execution of this.pending.values()) this.write(execution);
    this.pending.clear();
  }

  /** Writes what is pending and ignores later changes (the process is stopping). */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private write(execution: StoredExecution): void {
    let file = this.files.get(execution.executionArn);
    if (!file) {
      file = {
        path: join(this.dir, logFileName(execution.executionArn)),
        eventsWritten: 0,
        status: '',
        rewrite: true,
      };
      this.files.set(execution.executionArn, file);
    }
    const status = statusLine(execution);
    try {
      if (file.rewrite) {
        const lines = [headerLine(execution), ...execution.history.map(eventLine), status];
        const temporary = `${file.path}.tmp`;
        writeFileSync(temporary, `${lines.join('\n')}\n`);
        renameSync(temporary, file.path);
        file.rewrite = false;
      } else {
        const lines = execution.history.slice(file.eventsWritten).map(eventLine);
        if (status !== file.status) lines.push(status);
        if (lines.length > 0) appendFileSync(file.path, `${lines.join('\n')}\n`);
      }
      file.eventsWritten = execution.history.length;
      file.status = status;
    } catch (error) {
      // A failed append may have left part of a line: the next write replaces the whole file.
      file.rewrite = true;
      console.error(
        `Local Step Functions: could not save ${execution.executionArn} (retried on its next change)`,
        error,
      );
    }
  }
}

/**
 * On AWS an execution outlives the client that started it; locally, its run lived in the process that
 * ended — with the task invocations in flight and the task tokens they were waiting on — so it cannot go
 * on. Resuming it unasked could repeat a step on a host that may already have run it, and leaving it
 * RUNNING would hold its task (and host) forever. So it fails, as a state whose runtime broke does
 * (`States.Runtime`, which no Catch handles), at the time it was last seen alive: the task's
 * reconciliation records the reason, and a retry redrives it from the state it was in.
 */
export function failInterrupted(execution: StoredExecution): void {
  const stopDate = execution.history.at(-1)?.timestamp ?? execution.redriveDate ?? execution.startDate;
  const cause = interruptedCause(execution.resumePoint?.name);
  execution.status = 'FAILED';
  execution.stopDate = stopDate;
  execution.output = undefined;
  execution.error = INTERRUPTED_ERROR;
  execution.cause = cause;
  const id = execution.history.length + 1;
  execution.history.push({
    id,
    previousEventId: id - 1,
    timestamp: stopDate,
    type: 'ExecutionFailed',
    executionFailedEventDetails: { error: INTERRUPTED_ERROR, cause },
  });
}

/** Execution names may hold characters a file name cannot, and up to 80 of them: name files by a hash. */
function logFileName(executionArn: string): string {
  return `${createHash('sha256').update(executionArn).digest('hex').slice(0, 32)}${LOG_SUFFIX}`;
}

function headerLine(execution: StoredExecution): string {
  return JSON.stringify({
    type: 'execution',
    format: FORMAT,
    executionArn: execution.executionArn,
    name: execution.name,
    input: execution.input,
    startDate: execution.startDate,
    mapRunArn: execution.mapRunArn,
    mapRunIndex: execution.mapRunIndex,
  });
}

function eventLine(event: HistoryEvent): string {
  return JSON.stringify({ type: 'event', event });
}

function statusLine(execution: StoredExecution): string {
  return JSON.stringify({
    type: 'status',
    status: execution.status,
    stopDate: execution.stopDate,
    output: execution.output,
    error: execution.error,
    cause: execution.cause,
    redriveCount: execution.redriveCount,
    redriveDate: execution.redriveDate,
    resumePoint: execution.resumePoint,
  });
}

/**
 * The execution a log describes, up to its last whole line; `whole` is false when something after
 * that was cut or damaged. Undefined when even the header cannot be read.
 */
function replay(text: string): { execution: StoredExecution; whole: boolean } | undefined {
  const lines = text.split('\n');
  // A log that ends with a line break leaves '' here; anything else is a line cut by a crash.
  let whole = lines.pop() === '';
  const header = HeaderLine.safeParse(parseJson(lines[0]));
  if (!header.success) return undefined;
  const execution: StoredExecution = {
    executionArn: header.data.executionArn,
    name: header.data.name,
    input: header.data.input,
    startDate: new Date(header.data.startDate),
    status: 'RUNNING',
    redriveCount: 0,
    history: [],
    ...(header.data.mapRunArn === undefined
      ? {}
      : { mapRunArn: header.data.mapRunArn, mapRunIndex: header.data.mapRunIndex }),
  };
  for (const text of lines.slice(1)) {
    const line = BodyLine.safeParse(parseJson(text));
    if (
      !line.success ||
      (line.data.type === 'event' && line.data.event.id !== execution.history.length + 1)
    ) {
      whole = false;
      break;
    }
    if (line.data.type === 'event') {
      const { event } = line.data;
      execution.history.push({ ...event, timestamp: new Date(event.timestamp) } as HistoryEvent);
    } else {
      const status = line.data;
      execution.status = status.status;
      execution.stopDate = optionalDate(status.stopDate);
      execution.output = status.output;
      execution.error = status.error;
      execution.cause = status.cause;
      execution.redriveCount = status.redriveCount;
      execution.redriveDate = optionalDate(status.redriveDate);
      execution.resumePoint = status.resumePoint as StoredExecution['resumePoint'];
    }
  }
  return { execution, whole };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function optionalDate(value: string | undefined): Date | undefined {
  return value === undefined ? undefined : new Date(value);
}
