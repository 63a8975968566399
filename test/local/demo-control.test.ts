import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADDED_HOSTS_FILE, addedDemoHostIds } from '../../local/demo-control.ts';

const stateDir = () => mkdtempSync(join(tmpdir(), 'ocp-demo-control-'));

describe('addedDemoHostIds', () => {
  it('is empty before any host was added', () => {
    expect(addedDemoHostIds(stateDir())).toEqual([]);
  });

  it('reads the ids npm run demo -- add-host recorded', () => {
    const dir = stateDir();
    writeFileSync(join(dir, ADDED_HOSTS_FILE), '[5,42]\n');

    expect(addedDemoHostIds(dir)).toEqual([5, 42]);
  });

  it.each(['{', '{"hostIds":[5]}', '[0]', '[1.5]', '["5"]'])(
    'refuses a file holding %s, saying how to mend it',
    (content) => {
      const dir = stateDir();
      writeFileSync(join(dir, ADDED_HOSTS_FILE), content);

      expect(() => addedDemoHostIds(dir)).toThrow(
        /is not a JSON list of demo host ids: correct it, or remove it/,
      );
    },
  );
});
