import { describe, expect, it } from 'vitest';
import { COMMAND_STATUS_EVENT, commandFinishedPattern } from '#core/event-patterns';
import { matchesPattern } from '#local/event-pattern';

// Patterns and events follow the examples of AWS's "Content filtering in Amazon EventBridge event patterns".
const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated', 'c-count': 5, 'd-count': 7 },
};

describe('matchesPattern', () => {
  describe('exact values', () => {
    it('matches a field equal to one of the listed values', () => {
      expect(matchesPattern({ source: ['aws.s3', 'aws.ec2'] }, ec2Event)).toBe(true);
      expect(matchesPattern({ source: ['aws.s3'] }, ec2Event)).toBe(false);
    });

    it('requires every field of the pattern to match (AND), however deep', () => {
      expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['terminated'] } }, ec2Event)).toBe(true);
      expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['running'] } }, ec2Event)).toBe(false);
    });

    it('does not match a field the event lacks', () => {
      expect(matchesPattern({ detail: { missing: ['x'] } }, ec2Event)).toBe(false);
    });

    it('matches an array in the event when any of its elements matches', () => {
      const pattern = { resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] };
      expect(matchesPattern(pattern, ec2Event)).toBe(true);
    });

    it('matches numbers, booleans, null and the empty string by value and type', () => {
      const event = { detail: { count: 5, enabled: true, response: null, note: '' } };
      expect(
        matchesPattern({ detail: { count: [5], enabled: [true], response: [null], note: [''] } }, event),
      ).toBe(true);
      expect(matchesPattern({ detail: { count: ['5'] } }, event)).toBe(false);
    });

    it('matches objects inside an array of the event', () => {
      const event = { detail: { items: [{ name: 'a' }, { name: 'b' }] } };
      expect(matchesPattern({ detail: { items: { name: ['b'] } } }, event)).toBe(true);
      expect(matchesPattern({ detail: { items: { name: ['c'] } } }, event)).toBe(false);
    });
  });

  describe('prefix and suffix', () => {
    it('matches a prefix, with or without case', () => {
      expect(matchesPattern({ time: [{ prefix: '2017-12-22' }] }, ec2Event)).toBe(true);
      expect(matchesPattern({ time: [{ prefix: '2018' }] }, ec2Event)).toBe(false);
      const pattern = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
      expect(matchesPattern(pattern, { detail: { service: 'eventbridge' } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { service: 'lambda' } })).toBe(false);
    });

    it('matches a suffix, with or without case', () => {
      expect(matchesPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' })).toBe(true);
      expect(matchesPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'image.PNG' })).toBe(false);
      const pattern = { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] };
      expect(matchesPattern(pattern, { FileName: 'image.PNG' })).toBe(true);
    });
  });

  describe('anything-but', () => {
    it('matches any value but the one given, string or number', () => {
      expect(matchesPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2Event)).toBe(
        true,
      );
      expect(matchesPattern({ detail: { state: [{ 'anything-but': 'terminated' }] } }, ec2Event)).toBe(false);
      expect(matchesPattern({ detail: { 'c-count': [{ 'anything-but': 5 }] } }, ec2Event)).toBe(false);
    });

    it('matches any value outside a list', () => {
      const pattern = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
      expect(matchesPattern(pattern, ec2Event)).toBe(true);
      expect(matchesPattern(pattern, { detail: { state: 'stopped' } })).toBe(false);
    });

    it('matches any value without a prefix, a suffix, a case-insensitive value or a wildcard', () => {
      expect(
        matchesPattern({ state: [{ 'anything-but': { prefix: 'init' } }] }, { state: 'initializing' }),
      ).toBe(false);
      expect(matchesPattern({ state: [{ 'anything-but': { prefix: 'init' } }] }, { state: 'running' })).toBe(
        true,
      );
      expect(
        matchesPattern({ FileName: [{ 'anything-but': { suffix: '.txt' } }] }, { FileName: 'a.txt' }),
      ).toBe(false);
      const ignoreCase = { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] };
      expect(matchesPattern(ignoreCase, { state: 'STOPPED' })).toBe(false);
      expect(matchesPattern(ignoreCase, { state: 'running' })).toBe(true);
      const wildcard = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
      expect(matchesPattern(wildcard, { FilePath: 'src/lib/a.js' })).toBe(false);
      expect(matchesPattern(wildcard, { FilePath: 'src/bin/a.js' })).toBe(true);
    });

    it('does not match a field the event lacks', () => {
      expect(matchesPattern({ detail: { missing: [{ 'anything-but': 'x' }] } }, ec2Event)).toBe(false);
    });
  });

  describe('numeric, equals-ignore-case, wildcard and cidr', () => {
    it('matches numbers within every bound of a range', () => {
      const pattern = {
        detail: {
          'c-count': [{ numeric: ['>', 0, '<=', 5] }],
          'd-count': [{ numeric: ['<', 10] }],
          'x-limit': [{ numeric: ['=', 3.018e2] }],
        },
      };
      expect(matchesPattern(pattern, { detail: { 'c-count': 5, 'd-count': 7, 'x-limit': 301.8 } })).toBe(
        true,
      );
      expect(matchesPattern(pattern, { detail: { 'c-count': 6, 'd-count': 7, 'x-limit': 301.8 } })).toBe(
        false,
      );
      expect(matchesPattern(pattern, { detail: { 'c-count': '5', 'd-count': 7, 'x-limit': 301.8 } })).toBe(
        false,
      );
    });

    it('matches a string whatever its case', () => {
      const pattern = { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] };
      expect(matchesPattern(pattern, ec2Event)).toBe(true);
    });

    it('matches a wildcard', () => {
      const pattern = { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] };
      expect(
        matchesPattern(pattern, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/main' }),
      ).toBe(true);
      expect(
        matchesPattern(pattern, { EventBusArn: 'arn:aws:events:us-west-2:123456789012:event-bus/main' }),
      ).toBe(false);
    });

    it('matches an IPv4 address inside a CIDR block', () => {
      const pattern = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: '10.0.0.255' } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { sourceIPAddress: '10.0.1.1' } })).toBe(false);
    });
  });

  describe('exists', () => {
    it('matches a present field with exists: true and an absent one with exists: false', () => {
      expect(matchesPattern({ detail: { state: [{ exists: true }] } }, ec2Event)).toBe(true);
      expect(matchesPattern({ detail: { state: [{ exists: false }] } }, ec2Event)).toBe(false);
      expect(matchesPattern({ detail: { missing: [{ exists: false }] } }, ec2Event)).toBe(true);
      expect(matchesPattern({ nested: { missing: [{ exists: false }] } }, ec2Event)).toBe(true);
    });
  });

  describe('$or', () => {
    it('matches when any of the alternatives matches', () => {
      const pattern = {
        detail: {
          $or: [
            { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] },
            { 'd-count': [{ numeric: ['<', 10] }] },
            { 'x-limit': [{ numeric: ['=', 3.018e2] }] },
          ],
        },
      };
      expect(matchesPattern(pattern, { detail: { 'c-count': 9, 'd-count': 3 } })).toBe(true);
      expect(matchesPattern(pattern, { detail: { 'c-count': 9, 'd-count': 30 } })).toBe(false);
    });

    it('combines with the other fields of the same object', () => {
      const pattern = {
        source: ['aws.ec2'],
        $or: [{ region: ['us-east-1'] }, { account: ['111122223333'] }],
      };
      expect(matchesPattern(pattern, ec2Event)).toBe(true);
      expect(matchesPattern({ ...pattern, source: ['aws.s3'] }, ec2Event)).toBe(false);
    });
  });

  describe("the product's command-finished pattern", () => {
    const pattern = commandFinishedPattern(['OcpRestartPrepare', 'OcpRestartFinish']);
    const event = (status: string, documentName = 'OcpRestartPrepare') => ({
      ...ec2Event,
      source: COMMAND_STATUS_EVENT.source,
      'detail-type': COMMAND_STATUS_EVENT.detailType,
      detail: { 'command-id': 'c-1', 'instance-id': 'i-1', 'document-name': documentName, status },
    });

    it('matches a terminal status of one of its documents only', () => {
      expect(matchesPattern(pattern, event('Success'))).toBe(true);
      expect(matchesPattern(pattern, event('Delivery Timed Out'))).toBe(true);
      expect(matchesPattern(pattern, event('InProgress'))).toBe(false);
      expect(matchesPattern(pattern, event('Success', 'SomeoneElsesDocument'))).toBe(false);
    });
  });
});
