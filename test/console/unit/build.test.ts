import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../../console/build.ts';

const outDir = mkdtempSync(join(tmpdir(), 'console-build-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('buildConsole', () => {
  it('writes the page, one small ES module and the style sheet, and no inline script or style', async () => {
    const started = performance.now();
    const { files } = await buildConsole(outDir);
    const took = performance.now() - started;

    expect(files.map((file) => file.name)).toEqual(['index.html', 'console.js', 'console.css']);
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/console/console.js">']);
    expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/i);
    const script = files.find((file) => file.name === 'console.js')!;
    expect(script.bytes).toBeLessThan(40_000);
    expect(script.gzipBytes).toBeLessThan(script.bytes);
    const code = readFileSync(join(outDir, 'console.js'), 'utf8');
    expect(code).not.toMatch(/@aws-sdk|localStorage|document\.cookie|innerHTML|sourceMappingURL/);
    expect(took).toBeLessThan(5_000);
  });
});
