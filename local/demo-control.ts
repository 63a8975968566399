/**
 * Local mode's demo control: adds demo hosts and sets their modes while local mode runs, for
 * `npm run demo` (local/demo-cli.ts). It is an HTTP endpoint of local mode only, never of the
 * product: it listens on 127.0.0.1 and answers only requests carrying the secret local mode writes,
 * readable by its user alone, to DEMO_CONTROL_FILE in its state folder.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as z from '#core/schema';
import {
  createDemoHost,
  DEMO_MODES,
  type DemoHost,
  type DemoMode,
  demoMode,
  setDemoMode,
  startDemoAgent,
  stopDemoHost,
} from './demo-hosts.ts';

/** How `npm run demo` reaches the running local mode: `{ url, secret }`, mode 0600. */
export const DEMO_CONTROL_FILE = 'demo-control.json';
/** The ids of the demo hosts added while local mode ran: its next start brings them back. */
export const ADDED_HOSTS_FILE = 'demo-hosts-added.json';
const MAX_BODY_BYTES = 4096;

export interface DemoControlAccess {
  url: string;
  secret: string;
}

/** A demo host as the control endpoint answers it. */
export interface DemoHostView {
  hostId: number;
  instanceId: string;
  agentHome: string;
  mode: DemoMode;
}

/** What the control endpoint acts on: the running local mode's demo hosts. */
export interface DemoFleet {
  hostRoot: string;
  /** The demo hosts local mode knows (and its SSM serves); an added host is pushed here. */
  hosts: DemoHost[];
  /** Makes the host known to local mode's SSM and registers it in the host table. */
  admit(host: DemoHost): Promise<void>;
}

/** A refusal: its HTTP status and a message for the command line. */
export class DemoControlError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const Mode = z.enum(DEMO_MODES);
const HostId = z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER));
const AddHostBody = z.strictObject({ hostId: z.optional(HostId), mode: z.optional(Mode) });
const SetModeBody = z.strictObject({ mode: Mode });

const view = (host: DemoHost): DemoHostView => ({
  hostId: host.hostId,
  instanceId: host.instanceId,
  agentHome: host.agentHome,
  mode: demoMode(host),
});

/** The ids of the hosts added in earlier runs of local mode in this state folder. */
export function addedDemoHostIds(stateDir: string): number[] {
  const file = join(stateDir, ADDED_HOSTS_FILE);
  if (!existsSync(file)) return [];
  let ids: unknown;
  try {
    ids = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    ids = undefined;
  }
  const parsed = z.array(HostId).safeParse(ids);
  if (!parsed.success)
    throw new Error(
      `${file} is not a JSON list of demo host ids: correct it, or remove it to forget the added hosts`,
    );
  return parsed.data;
}

/** The control's actions, one at a time (two adds never pick the same id). */
export function demoControl(stateDir: string, fleet: DemoFleet) {
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(action: () => Promise<T>): Promise<T> => {
    const result = queue.then(action);
    queue = result.catch(() => undefined);
    return result;
  };
  const find = (hostId: number) => {
    const host = fleet.hosts.find((candidate) => candidate.hostId === hostId);
    if (!host) throw new DemoControlError(404, `Host ${hostId} is not a demo host of this local mode.`);
    return host;
  };

  return {
    list: (): DemoHostView[] => [...fleet.hosts].sort((a, b) => a.hostId - b.hostId).map(view),

    /**
     * Adds a demo host (the next free id unless given), its agent started, then registers it: once
     * answered, it can be restarted. Its mode, if given, is set after its agent started.
     */
    add: (body: unknown): Promise<DemoHostView> =>
      serially(async () => {
        const { hostId: requested, mode } = parse(AddHostBody, body);
        const hostId = requested ?? Math.max(0, ...fleet.hosts.map((host) => host.hostId)) + 1;
        if (fleet.hosts.some((host) => host.hostId === hostId))
          throw new DemoControlError(409, `Demo host ${hostId} exists already.`);
        const host = createDemoHost(fleet.hostRoot, hostId, { mode: 'normal' });
        try {
          await startDemoAgent(host);
        } catch (error) {
          await stopDemoHost(host);
          throw new DemoControlError(500, `Demo host ${hostId}'s agent did not start: ${String(error)}`);
        }
        if (mode) setDemoMode(host, mode);
        await fleet.admit(host);
        fleet.hosts.push(host);
        const added = [...new Set([...addedDemoHostIds(stateDir), hostId])];
        writeAtomically(join(stateDir, ADDED_HOSTS_FILE), `${JSON.stringify(added)}\n`);
        return view(host);
      }),

    /** Sets the host's mode; its running processes follow it at their next signal. */
    setMode: (hostId: number, body: unknown): Promise<DemoHostView> =>
      serially(async () => {
        const { mode } = parse(SetModeBody, body);
        const host = find(hostId);
        setDemoMode(host, mode);
        return view(host);
      }),
  };
}

export type DemoControl = ReturnType<typeof demoControl>;

function parse<T>(schema: z.Schema<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  const modes = field === 'mode' ? ` (one of ${DEMO_MODES.join(', ')})` : '';
  throw new DemoControlError(400, `Invalid ${field}: ${issue?.message ?? 'invalid'}${modes}.`);
}

/**
 * Serves the control on 127.0.0.1 (a free port) and writes DEMO_CONTROL_FILE; `close` removes it.
 *   GET /demo/hosts                  the demo hosts and their modes
 *   POST /demo/hosts                 { hostId?, mode? }: adds a demo host
 *   PUT /demo/hosts/{hostId}/mode    { mode }: sets its mode
 */
export async function startDemoControl(
  stateDir: string,
  control: DemoControl,
): Promise<{ url: string; close(): Promise<void> }> {
  const secret = randomBytes(24).toString('base64url');
  const server = createServer((req, res) => {
    answer(req, control, secret).then(
      ({ statusCode, body }) => {
        res.writeHead(statusCode, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(body)}\n`);
      },
      (error: unknown) => {
        const statusCode = error instanceof DemoControlError ? error.statusCode : 500;
        res.writeHead(statusCode, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = join(stateDir, DEMO_CONTROL_FILE);
  writeAtomically(file, `${JSON.stringify({ url, secret } satisfies DemoControlAccess)}\n`, 0o600);
  return {
    url,
    close: async () => {
      rmSync(file, { force: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answer(
  req: IncomingMessage,
  control: DemoControl,
  secret: string,
): Promise<{ statusCode: number; body: unknown }> {
  if (!hasSecret(req.headers.authorization, secret))
    throw new DemoControlError(401, `No or wrong secret: read it from ${DEMO_CONTROL_FILE}.`);
  const path = (req.url ?? '/').split('?')[0];
  const modeRoute = /^\/demo\/hosts\/([1-9][0-9]{0,15})\/mode$/.exec(path ?? '');
  if (path === '/demo/hosts' && req.method === 'GET') return { statusCode: 200, body: control.list() };
  if (path === '/demo/hosts' && req.method === 'POST')
    return { statusCode: 201, body: await control.add(await readJson(req)) };
  if (modeRoute && req.method === 'PUT')
    return { statusCode: 200, body: await control.setMode(Number(modeRoute[1]), await readJson(req)) };
  throw new DemoControlError(404, `No demo control at ${req.method} ${path}.`);
}

function hasSecret(header: string | undefined, secret: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(secret);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_BODY_BYTES) throw new DemoControlError(413, 'The request body is too large.');
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new DemoControlError(400, 'The request body is not JSON.');
  }
}

function writeAtomically(file: string, content: string, mode = 0o644): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}
