import { resolveLogFormat } from '../../src/common/logger';

describe('log format', () => {
  it('is pretty for a person at a terminal outside production, JSON for pipes and production', () => {
    expect(resolveLogFormat({ env: 'development', logFormat: 'auto' }, true)).toBe('pretty');
    expect(resolveLogFormat({ env: 'development', logFormat: 'auto' }, false)).toBe('json');
    expect(resolveLogFormat({ env: 'production', logFormat: 'auto' }, true)).toBe('json');
  });

  it('follows an explicit LOG_FORMAT whatever stdout is', () => {
    expect(resolveLogFormat({ env: 'production', logFormat: 'pretty' }, false)).toBe('pretty');
    expect(resolveLogFormat({ env: 'development', logFormat: 'json' }, true)).toBe('json');
  });
});
