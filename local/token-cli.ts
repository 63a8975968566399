import { parseArgs } from 'node:util';
import { loadOrCreateSigningKey, localStateDir, signLocalToken } from './jwt.ts';

const USAGE =
  'Usage: npm run token -- --user <name> --permissions <P1,P2,...> [--expires-in 8h]\n' +
  'Prints a token for the local API, signed with the key in $OCP_LOCAL_DIR (default .local/).';

/** Prints one local-mode JWT on stdout and nothing else; problems go to stderr with exit code 1. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      permissions: { type: 'string', default: '' },
      'expires-in': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  if (!values.user) throw new Error('--user is required');
  const permissions = values.permissions
    .split(',')
    .map((permission) => permission.trim())
    .filter((permission) => permission.length > 0);
  const key = await loadOrCreateSigningKey(localStateDir());
  const token = await signLocalToken(
    { user: values.user, permissions, ...(values['expires-in'] ? { expiresIn: values['expires-in'] } : {}) },
    key,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exitCode = 1;
});
