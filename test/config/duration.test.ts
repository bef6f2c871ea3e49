// Tests for ferry.yaml durations: "15m" → seconds and back.

import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/config';
import { ErrorType, FerryError } from '../../src/errors';

describe('config/duration', () => {
  it('parses each unit to seconds', () => {
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration('45s'), 45);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('2h'), 7200);
    assert.equal(parseDuration('1d'), 86400);
    assert.equal(parseDuration('250ms'), 0.25);
    assert.equal(parseDuration('7ms'), 0.007);
  });

  it('rejects anything but one whole number and one unit, with CONFIG_INVALID', () => {
    for (const bad of ['15', '1.5h', '15 m', '-1s', '15M', '1h30m', '', 'm']) {
      assert.throws(
        () => parseDuration(bad),
        (err: unknown) =>
          err instanceof FerryError &&
          err.type === ErrorType.CONFIG_INVALID &&
          /ms, s, m, h or d/.test(err.message),
        bad,
      );
    }
  });

  it('formats with the largest unit that divides exactly', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(61), '61s');
    assert.equal(formatDuration(900), '15m');
    assert.equal(formatDuration(5400), '90m');
    assert.equal(formatDuration(7200), '2h');
    assert.equal(formatDuration(172800), '2d');
    assert.equal(formatDuration(0.25), '250ms');
    assert.equal(formatDuration(1.5), '1500ms');
  });

  it('round-trips: what it formats parses back to the same value', () => {
    for (const seconds of [0, 1, 59, 60, 900, 3600, 5400, 86400, 90000, 0.001, 0.007, 12.345]) {
      assert.equal(parseDuration(formatDuration(seconds)), seconds);
    }
  });

  it('refuses negative and non-finite values', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => formatDuration(bad), RangeError);
    }
  });
});
