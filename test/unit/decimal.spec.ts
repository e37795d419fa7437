import {
  abs,
  absDecimal,
  addDecimals,
  div,
  formatDecimal,
  isDecimal,
  isPositiveDecimal,
  isSignedDecimal,
  mul,
  negateDecimal,
  parseDecimal,
  round,
  truncate,
} from '../../src/common/decimal';

const d = parseDecimal;
const f = formatDecimal;

describe('exact decimals (src/common/decimal.ts)', () => {
  it('parses and formats without float drift', () => {
    expect(f(d('0.1') + d('0.2'))).toBe('0.3');
    expect(f(d('-12.500'))).toBe('-12.5');
    expect(f(d(' 7 '))).toBe('7');
    expect(f(d('0.000000000001'))).toBe('0.000000000001');
  });

  it('refuses what is not a plain decimal', () => {
    for (const bad of ['', '1e3', '1.2.3', '.5', 'NaN', '+1', '0x10']) expect(() => d(bad)).toThrow(RangeError);
  });

  it('cuts digits beyond twelve places instead of rounding them up', () => {
    expect(f(d('1.0000000000009'))).toBe('1');
  });

  it('multiplies and divides at full scale', () => {
    expect(f(mul(d('1.5'), d('3')))).toBe('4.5');
    expect(f(div(d('1'), d('3')))).toBe('0.333333333333');
    expect(f(div(d('-10'), d('4')))).toBe('-2.5');
  });

  it('truncates quantities towards zero and rounds prices half away from zero', () => {
    expect(f(truncate(d('1.999999999'), 8))).toBe('1.99999999');
    expect(f(truncate(d('-1.999999999'), 2))).toBe('-1.99');
    expect(f(round(d('2.345'), 2))).toBe('2.35');
    expect(f(round(d('-2.345'), 2))).toBe('-2.35');
    expect(f(round(d('2.344'), 2))).toBe('2.34');
    expect(f(round(d('2.5'), 0))).toBe('3');
    expect(f(round(d('1.23'), 12))).toBe('1.23');
  });

  it('takes absolute values', () => {
    expect(f(abs(d('-3.25')))).toBe('3.25');
    expect(f(abs(d('3.25')))).toBe('3.25');
  });

  it('adds, negates and takes absolutes of decimal strings at their own precision', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(addDecimals('1.00000000000000001', '-1')).toBe('0.00000000000000001');
    expect(addDecimals('-2.5', '2.5')).toBe('0');
    expect(negateDecimal('3.10')).toBe('-3.1');
    expect(negateDecimal('0')).toBe('0');
    expect(absDecimal('-0.25')).toBe('0.25');
    expect(() => addDecimals('1e2', '1')).toThrow(RangeError);
  });

  it('tells decimal strings apart', () => {
    expect([isDecimal('1.5'), isDecimal('-1.5'), isDecimal('1.')]).toEqual([true, false, false]);
    expect([isPositiveDecimal('0.001'), isPositiveDecimal('0.000'), isPositiveDecimal('-1')]).toEqual([true, false, false]);
    expect([isSignedDecimal('-1.5'), isSignedDecimal('--1')]).toEqual([true, false]);
  });
});
