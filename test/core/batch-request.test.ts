import { describe, expect, it } from 'vitest';
import { MAX_BATCH_HOSTS, parseBatchRequest } from '#core/batch-request';
import { InvalidArgument } from '#core/errors';

/** The refusal of `body`: an InvalidArgument (OCP 400); fails the test if the body is accepted. */
function refusal(body: unknown): InvalidArgument {
  try {
    parseBatchRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgument);
    return error as InvalidArgument;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

const hosts = (count: number) => Array.from({ length: count }, (_, i) => 1001 + i);

describe('parseBatchRequest accepts', () => {
  it("OCP's body, with the defaults for what it does not give", () => {
    expect(parseBatchRequest({ hostIds: [1001, 1002] })).toEqual({
      hostIds: [1001, 1002],
      rollout: {},
      dryRun: false,
      prohibitRollback: false,
    });
  });

  it("OCP's sample spelling hostids", () => {
    expect(parseBatchRequest({ hostids: [2] }).hostIds).toEqual([2]);
  });

  it('the hosts in the order given', () => {
    expect(parseBatchRequest({ hostIds: [30, 10, 20] }).hostIds).toEqual([30, 10, 20]);
  });

  it(`${MAX_BATCH_HOSTS} hosts`, () => {
    expect(parseBatchRequest({ hostIds: hosts(MAX_BATCH_HOSTS) }).hostIds).toHaveLength(MAX_BATCH_HOSTS);
  });

  it('the largest id a JSON number carries exactly', () => {
    expect(parseBatchRequest({ hostIds: [Number.MAX_SAFE_INTEGER] }).hostIds).toEqual([
      Number.MAX_SAFE_INTEGER,
    ]);
  });

  it('rollout counts, a dry run and prohibitRollback', () => {
    expect(
      parseBatchRequest({
        hostIds: [1],
        rollout: { maxConcurrency: 1000, maxErrors: 0, healthCheckSeconds: 0 },
        dryRun: true,
        prohibitRollback: true,
      }),
    ).toEqual({
      hostIds: [1],
      rollout: { maxConcurrency: { count: 1000 }, maxErrors: { count: 0 }, healthCheckSeconds: 0 },
      dryRun: true,
      prohibitRollback: true,
    });
  });

  it.each([
    ['1%', '0%'],
    ['9%', '9%'],
    ['10%', '10%'],
    ['100%', '100%'],
  ])('rollout percentages %s and %s', (maxConcurrency, maxErrors) => {
    expect(parseBatchRequest({ hostIds: [1], rollout: { maxConcurrency, maxErrors } }).rollout).toEqual({
      maxConcurrency: { percent: Number(maxConcurrency.slice(0, -1)) },
      maxErrors: { percent: Number(maxErrors.slice(0, -1)) },
    });
  });

  it('healthCheckSeconds at its bound', () => {
    expect(parseBatchRequest({ hostIds: [1], rollout: { healthCheckSeconds: 600 } }).rollout).toEqual({
      healthCheckSeconds: 600,
    });
  });
});

describe('parseBatchRequest refuses, naming the field and the problem,', () => {
  it.each([
    ['a list', []],
    ['null', null],
    ['a text', 'hostIds'],
    ['a number', 1001],
  ])('a body that is %s', (_, body) => {
    const error = refusal(body);
    expect(error.target).toBe('body');
    expect(error.message).toMatch(/^Invalid request body: body must be a JSON object, got /);
  });

  it('a body without hosts', () => {
    expect(refusal({}).message).toBe('Invalid request body: hostIds is required.');
  });

  it('both spellings of hostIds at once', () => {
    expect(refusal({ hostIds: [1], hostids: [2] }).message).toBe(
      'Invalid request body: body gives both hostIds and hostids: give the hosts once, as hostIds.',
    );
  });

  it('an empty list', () => {
    const error = refusal({ hostIds: [] });
    expect(error.target).toBe('hostIds');
    expect(error.message).toBe(
      'Invalid request body: hostIds must name at least one host, got an empty list.',
    );
  });

  it('an empty list spelled hostids', () => {
    expect(refusal({ hostids: [] }).message).toMatch(/hostids must name at least one host/);
  });

  it(`${MAX_BATCH_HOSTS + 1} hosts`, () => {
    expect(refusal({ hostIds: hosts(MAX_BATCH_HOSTS + 1) }).message).toBe(
      `Invalid request body: hostIds names 1001 hosts, more than the ${MAX_BATCH_HOSTS} one batch may restart.`,
    );
  });

  it('hostIds that is not a list', () => {
    expect(refusal({ hostIds: 1001 }).message).toBe(
      'Invalid request body: hostIds must be a list of host ids, got 1001.',
    );
  });

  it('a host named twice, naming it', () => {
    expect(refusal({ hostIds: [1001, 1002, 1001] }).message).toBe(
      'Invalid request body: hostIds names a host more than once: 1001.',
    );
  });

  it('hosts named more than once, naming each once', () => {
    expect(refusal({ hostIds: [3, 1, 3, 2, 1, 3] }).message).toBe(
      'Invalid request body: hostIds names hosts more than once: 3, 1.',
    );
  });

  it('many duplicated hosts, naming ten and counting the rest', () => {
    const ids = hosts(25);
    expect(refusal({ hostIds: [...ids, ...ids] }).message).toBe(
      `Invalid request body: hostIds names hosts more than once: ${ids.slice(0, 10).join(', ')} and 15 more.`,
    );
  });

  it.each([
    [1.5, '1.5'],
    [-1, '-1'],
    [0, '0'],
    [-0.5, '-0.5'],
  ])('the id %j', (id, shown) => {
    const error = refusal({ hostIds: [1001, id] });
    expect(error.target).toBe('hostIds[1]');
    expect(error.message).toBe(
      `Invalid request body: hostIds[1] must be a positive 64-bit integer, got ${shown}.`,
    );
  });

  it.each([
    ['2^63', 2 ** 63, '9223372036854775808'],
    ['2^63 − 1, which JSON reads as 2^63', JSON.parse('9223372036854775807'), '9223372036854775808'],
    ['2^53 + 2', 2 ** 53 + 2, '9007199254740994'],
    ['1e21', 1e21, '1000000000000000000000'],
  ])('the id %s, which no JSON number carries exactly', (_, id, shown) => {
    expect(refusal({ hostIds: [id] }).message).toBe(
      `Invalid request body: hostIds[0] must be at most 9007199254740991 (2^53 − 1), got ${shown}: a JSON number beyond it is not read exactly and could name another host.`,
    );
  });

  it.each([
    ['"abc"', 'abc', 'the text "abc"'],
    ['"1001", a number in a text', '1001', 'the text "1001"'],
    ['null', null, 'null'],
    ['true', true, 'true'],
    ['a list', [1], 'a list'],
    ['an object', { id: 1 }, 'an object'],
  ])('the id %s', (_, id, shown) => {
    expect(refusal({ hostIds: [id] }).message).toBe(
      `Invalid request body: hostIds[0] must be a host id (a JSON integer), got ${shown}.`,
    );
  });

  it('a long text as an id, showing only its start', () => {
    expect(refusal({ hostIds: ['x'.repeat(5000)] }).message).toBe(
      `Invalid request body: hostIds[0] must be a host id (a JSON integer), got the text "${'x'.repeat(40)}…".`,
    );
  });

  it('an unknown top-level field, naming it and the fields there are', () => {
    const error = refusal({ hostIds: [1], hostId: 1 });
    expect(error.target).toBe('body');
    expect(error.message).toBe(
      'Invalid request body: body has unknown field "hostId" (allowed: hostIds, rollout, dryRun, prohibitRollback).',
    );
  });

  it('unknown top-level fields, naming each', () => {
    expect(refusal({ hostIds: [1], force: true, async: 1 }).message).toMatch(
      /body has unknown fields "force", "async" \(allowed: /,
    );
  });

  it('an unknown rollout field, naming it', () => {
    const error = refusal({ hostIds: [1], rollout: { maxConcurrency: 1, concurrency: 5 } });
    expect(error.target).toBe('rollout');
    expect(error.message).toBe(
      'Invalid request body: rollout has unknown field "concurrency" (allowed: maxConcurrency, maxErrors, healthCheckSeconds).',
    );
  });

  it('a rollout that is not an object', () => {
    expect(refusal({ hostIds: [1], rollout: '10%' }).message).toBe(
      'Invalid request body: rollout must be a JSON object, got the text "10%".',
    );
  });

  const concurrencyRefusal = (shown: string) =>
    `Invalid request body: rollout.maxConcurrency must be a whole number of hosts from 1 to 1000 or a whole percentage from "1%" to "100%", got ${shown}.`;

  it.each([
    [0, '0'],
    [1001, '1001'],
    [-1, '-1'],
    [2.5, '2.5'],
    ['0%', 'the text "0%"'],
    ['101%', 'the text "101%"'],
    ['10.5%', 'the text "10.5%"'],
    ['05%', 'the text "05%"'],
    ['10 %', 'the text "10 %"'],
    ['%', 'the text "%"'],
    ['-5%', 'the text "-5%"'],
    ['10', 'the text "10"'],
    ['ten', 'the text "ten"'],
    [true, 'true'],
    [null, 'null'],
  ])('maxConcurrency %j', (maxConcurrency, shown) => {
    const error = refusal({ hostIds: [1], rollout: { maxConcurrency } });
    expect(error.target).toBe('rollout.maxConcurrency');
    expect(error.message).toBe(concurrencyRefusal(shown));
  });

  const errorsRefusal = (shown: string) =>
    `Invalid request body: rollout.maxErrors must be a whole number of hosts from 0 to 1000 or a whole percentage from "0%" to "100%", got ${shown}.`;

  it.each([
    [-1, '-1'],
    [1001, '1001'],
    [0.5, '0.5'],
    ['101%', 'the text "101%"'],
    ['10.5%', 'the text "10.5%"'],
    ['00%', 'the text "00%"'],
    ['1e1%', 'the text "1e1%"'],
    ['5', 'the text "5"'],
    [{}, 'an object'],
  ])('maxErrors %j', (maxErrors, shown) => {
    const error = refusal({ hostIds: [1], rollout: { maxErrors } });
    expect(error.target).toBe('rollout.maxErrors');
    expect(error.message).toBe(errorsRefusal(shown));
  });

  it.each([
    [601, '601'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['30', 'the text "30"'],
    [null, 'null'],
  ])('healthCheckSeconds %j, saying the bound', (healthCheckSeconds, shown) => {
    const error = refusal({ hostIds: [1], rollout: { healthCheckSeconds } });
    expect(error.target).toBe('rollout.healthCheckSeconds');
    expect(error.message).toBe(
      `Invalid request body: rollout.healthCheckSeconds must be a whole number of seconds from 0 to 600, got ${shown}.`,
    );
  });

  it.each(['dryRun', 'prohibitRollback'])('%s that is not a boolean', (field) => {
    const error = refusal({ hostIds: [1], [field]: 'true' });
    expect(error.target).toBe(field);
    expect(error.message).toBe(`Invalid request body: ${field} must be true or false, got the text "true".`);
  });
});
