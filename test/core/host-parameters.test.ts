import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkAllowedPattern, matchesAllowedPattern } from '#core/allowed-pattern';
import {
  asJavaScriptRegExp,
  DEFAULT_AGENT_HOME,
  DEFAULT_CONTROL_SCRIPT,
  HOST_PARAMETER_MAX_LENGTH,
  HOST_PARAMETER_PATTERNS,
  type HostParameter,
  isValidHostParameter,
} from '#core/host-parameters';
import { goVerdicts, hasGo, hasJava, javaVerdicts, type Probe } from './regex-engines/engines.ts';

/**
 * The patterns travel to several engines: the handlers (JavaScript RegExp, held equal to RE2 here),
 * local SSM (re2js), the SSM Agent on the host (Go's regexp) and SSM's SendCommand check (Java). Each case is run through all of them, one
 * process per engine, and every engine must give the same answer.
 */

/** One value, and whether the parameter's pattern accepts it (its length is checked apart). */
type Case = [parameter: HostParameter, value: string, patternAccepts: boolean];

const CASES: Case[] = [
  ['agentHome', DEFAULT_AGENT_HOME, true],
  ['agentHome', '/opt/ocp.agent-2', true],
  ['agentHome', '/tmp/demo-hosts-Ab12_x/host-7/ocp_agent', true],
  ['agentHome', '/.hidden/agent.', true],
  ['agentHome', '/a', true],
  ['agentHome', '/-', true],
  ['agentHome', `/${'a'.repeat(200)}`, true],
  ['agentHome', `/${'a'.repeat(201)}`, true], // refused by length alone
  ['agentHome', '/a/../b', false],
  ['agentHome', '/a/./b', false],
  ['agentHome', '/a/..', false],
  ['agentHome', '/a/.', false],
  ['agentHome', '/..', false],
  ['agentHome', '/.', false],
  ['agentHome', '/a..b', false],
  ['agentHome', '/a/...', false],
  ['agentHome', '/a/b/', false],
  ['agentHome', '/', false],
  ['agentHome', '//a', false],
  ['agentHome', '/a//b', false],
  ['agentHome', 'a/b', false],
  ['agentHome', '', false],
  ['agentHome', '/a\n', false],
  ['agentHome', '/a\r', false],
  ['agentHome', '/a\r\n', false],
  ['agentHome', '/a\u0085', false],
  ['agentHome', '/a\u2028', false],
  ['agentHome', '/a\nb', false],
  ['agentHome', '\n/a', false],
  ['agentHome', '/a b', false],
  ['agentHome', '/a\tb', false],
  ['agentHome', "/a'b", false],
  ['agentHome', '/a"b', false],
  ['agentHome', '/a$b', false],
  ['agentHome', '/a`id`', false],
  ['agentHome', '/a$(id)', false],
  ['agentHome', '/a;b', false],
  ['agentHome', '/a|b', false],
  ['agentHome', '/a&b', false],
  ['agentHome', '/a\\b', false],
  ['agentHome', '/a*', false],
  ['agentHome', '/a?', false],
  ['agentHome', '/~root', false],
  ['agentHome', '/a{b}', false],
  ['agentHome', '/a\u0000b', false],
  ['agentHome', '/é', false],
  ['agentHome', '/ａgent', false],
  ['agentHome', '/a／b', false],
  // Twice the longest value, built to make a backtracking engine work hard.
  ['agentHome', `/${'a'.repeat(400)}!`, false],
  ['agentHome', `/a${'.a'.repeat(200)}..`, false],
  ['agentHome', `${'/a'.repeat(200)}/`, false],
  ['controlScript', DEFAULT_CONTROL_SCRIPT, true],
  ['controlScript', 'sbin/ocp-agent.sh', true],
  ['controlScript', 'ctl', true],
  ['controlScript', '_ctl/.x', true],
  ['controlScript', 'a'.repeat(128), true],
  ['controlScript', 'a'.repeat(129), true], // refused by length alone
  ['controlScript', '/bin/ctl', false],
  ['controlScript', './ctl', false],
  ['controlScript', '.ctl', false],
  ['controlScript', '-ctl', false],
  ['controlScript', '../ctl', false],
  ['controlScript', 'bin/../../x', false],
  ['controlScript', 'bin/./x', false],
  ['controlScript', 'bin/..', false],
  ['controlScript', 'bin/', false],
  ['controlScript', 'bin//x', false],
  ['controlScript', 'bin/ctl\n', false],
  ['controlScript', 'bin/ctl\r', false],
  ['controlScript', 'bin/ctl x', false],
  ['controlScript', "bin/ctl'", false],
  ['controlScript', 'bin/ctl; reboot', false],
  ['controlScript', '$(id)', false],
  ['controlScript', '`id`', false],
  ['controlScript', 'bïn/ctl', false],
  ['controlScript', '', false],
  ['controlScript', `${'a/'.repeat(128)}/`, false],
  ['instanceId', 'i-0123456789abcdef0', true],
  ['instanceId', 'i-01234567', true],
  ['instanceId', 'mi-00000000000000001', true],
  ['instanceId', 'i-0123456789abcdef0\n', false],
  ['instanceId', 'i-0123456', false],
  ['instanceId', 'i-012345678', false],
  ['instanceId', 'i-0123456789abcdef', false],
  ['instanceId', 'mi-01234567', false],
  ['instanceId', 'i-0123456789abcdef01', false],
  ['instanceId', 'i-0123456789ABCDEF0', false],
  ['instanceId', 'I-01234567', false],
  ['instanceId', ' i-01234567', false],
  ['instanceId', 'i-01234567;id', false],
  ['instanceId', '', false],
];

/** The lookahead pattern the documents used to declare: what the RE2 engines must refuse. */
const LOOKAHEAD = '^/(?!.*\\.\\.)[A-Za-z0-9_./-]{1,200}(?![\\s\\S])';

const PATTERNS = Object.entries(HOST_PARAMETER_PATTERNS) as [HostParameter, string][];
const caseProbes: Probe[] = CASES.map(([parameter, value]) => ({
  pattern: HOST_PARAMETER_PATTERNS[parameter],
  value,
}));
const compileProbes: Probe[] = [...PATTERNS.map(([, pattern]) => ({ pattern })), { pattern: LOOKAHEAD }];
const shown = (value: string) =>
  value.length > 40 ? `${JSON.stringify(value.slice(0, 30))}…` : JSON.stringify(value);

/** The cases whose answer from an engine differs from the table's. */
function disagreements(answers: string[], accepted: string, refused: string): string[] {
  return CASES.flatMap(([parameter, value, patternAccepts], index) =>
    answers[index] === (patternAccepts ? accepted : refused)
      ? []
      : [`${parameter} ${shown(value)}: ${answers[index]}`],
  );
}

if (!hasGo) {
  console.warn(
    '\n*** go is not on PATH: the Go regexp cross-check of HOST_PARAMETER_PATTERNS is SKIPPED. Install it (apt-get install golang-go). ***\n',
  );
}
if (!hasJava) {
  console.warn(
    '\n*** java is not on PATH: the Java regex cross-check of HOST_PARAMETER_PATTERNS is SKIPPED. ***\n',
  );
}

describe('HOST_PARAMETER_PATTERNS', () => {
  /** Each available engine's answers: one process per engine, both at once. */
  const engines: { go?: string[]; java?: string[] } = {};

  beforeAll(async () => {
    const probes = [...compileProbes, ...caseProbes];
    [engines.go, engines.java] = await Promise.all([
      hasGo ? goVerdicts(probes) : undefined,
      hasJava ? javaVerdicts([...probes, { pattern: '^/[a-z]+$', value: '/a\n' }]) : undefined,
    ]);
  }, 60_000);

  it('are anchored at the start with ^ and at the very end with \\z, which nothing may follow', () => {
    for (const [name, pattern] of PATTERNS) {
      expect(pattern.startsWith('^'), name).toBe(true);
      expect(pattern.endsWith('\\z'), name).toBe(true);
      expect(pattern.indexOf('\\z'), `${name} has one \\z`).toBe(pattern.length - 2);
    }
  });

  it('compile in RE2 (re2js), which refuses the old lookahead pattern', () => {
    for (const [name, pattern] of PATTERNS) expect(() => checkAllowedPattern(pattern), name).not.toThrow();
    expect(() => checkAllowedPattern(LOOKAHEAD)).toThrow('invalid or unsupported Perl syntax: `(?!`');
  });

  it.each(
    CASES.map(([parameter, value, patternAccepts]) => ({
      parameter,
      value,
      shown: shown(value),
      valid: patternAccepts && value.length <= HOST_PARAMETER_MAX_LENGTH[parameter],
    })),
  )('$parameter $shown is valid: $valid', ({ parameter, value, valid }) => {
    expect(isValidHostParameter(parameter, value)).toBe(valid);
  });

  it('give every case of the table the same answer under re2js and as the functions evaluate them (JavaScript RegExp)', () => {
    const answers = CASES.map(([parameter, value]) => {
      const pattern = HOST_PARAMETER_PATTERNS[parameter];
      const re2 = matchesAllowedPattern(pattern, value);
      const js = asJavaScriptRegExp(pattern).test(value);
      return re2 === js ? (re2 ? '1' : '0') : `re2js ${re2}, RegExp ${js}`;
    });

    expect(disagreements(answers, '1', '0')).toEqual([]);
  });

  it('give generated values the same answer under re2js and JavaScript RegExp', () => {
    // Values built from the characters the patterns treat specially, and from those they must refuse.
    const pieces = [
      '/',
      '.',
      '..',
      'a',
      'Z',
      '0',
      '_',
      '-',
      'i-',
      'mi-',
      'f',
      '9',
      '\n',
      '\r',
      '\u2028',
      ' ',
      '$',
      'é',
      '\u{1F600}',
      '0123456789abcdef',
    ];
    const values = fc.array(fc.constantFrom(...pieces), { maxLength: 24 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.constantFrom(...PATTERNS), values, ([, pattern], value) => {
        expect(asJavaScriptRegExp(pattern).test(value)).toBe(matchesAllowedPattern(pattern, value));
      }),
      { numRuns: 20_000, seed: 20261202 },
    );
  });

  it('become a JavaScript RegExp only as ^… ending in one \\z', () => {
    expect(() => asJavaScriptRegExp('^/[a-z]+$')).toThrow('Not a host parameter pattern');
    expect(() => asJavaScriptRegExp('/[a-z]+\\z')).toThrow('Not a host parameter pattern');
    expect(() => asJavaScriptRegExp('^a\\zb\\z')).toThrow('Not a host parameter pattern');
    expect(asJavaScriptRegExp('^/[a-z]+\\z').test('/a\n')).toBe(false);
  });

  describe.runIf(hasGo)('under Go’s regexp (the SSM Agent’s engine)', () => {
    it('compile, while the old lookahead pattern does not', () => {
      expect(engines.go?.slice(0, compileProbes.length)).toEqual([
        ...PATTERNS.map(() => 'ok'),
        'E error parsing regexp: invalid or unsupported Perl syntax: `(?!`',
      ]);
    });

    it('give every case of the table its answer', () => {
      expect(disagreements(engines.go!.slice(compileProbes.length), '1', '0')).toEqual([]);
    });
  });

  describe.runIf(hasJava)(
    'under java.util.regex (SSM’s SendCommand check), with find() and matches()',
    () => {
      it('compile, as does the old lookahead pattern (Java has lookahead)', () => {
        expect(engines.java?.slice(0, compileProbes.length)).toEqual([...PATTERNS.map(() => 'ok'), 'ok']);
      });

      it('give every case of the table its answer, whichever of find() or matches() SSM calls', () => {
        expect(disagreements(engines.java!.slice(compileProbes.length, -1), '11', '00')).toEqual([]);
      });

      it('let a final line break through a pattern ending in $ under find(): why the patterns end in \\z', () => {
        expect(engines.java?.at(-1)).toBe('10');
      });
    },
  );

  it('are never given to new RegExp as they are (JavaScript reads \\z as the letter z): asJavaScriptRegExp converts them', () => {
    const root = join(__dirname, '..', '..');
    const offenders = ['functions', 'local', 'host-scripts', 'infra', 'test'].flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .filter((file) =>
          /new RegExp\(\s*HOST_PARAMETER_PATTERNS/.test(readFileSync(join(root, dir, file), 'utf8')),
        )
        .map((file) => join(dir, file)),
    );

    expect(offenders).toEqual([]);
  });
});
