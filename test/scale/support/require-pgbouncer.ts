import { findPgbouncer, PGBOUNCER_MISSING } from './pgbouncer';

/**
 * The pgbouncer binary, or a describe that skips loudly when it truly cannot be found.
 * Under CI (CI=true) a missing pgbouncer is a failure, never a skip: CI installs it.
 */
export function pgbouncerSuite(): { bin: string; describe: jest.Describe } {
  const bin = findPgbouncer();
  if (bin) return { bin, describe };
  if (process.env.CI) {
    return {
      bin: '',
      describe: ((name: string) =>
        describe(name, () => {
          it('needs pgbouncer (CI must install it: apt-get install -y pgbouncer)', () => {
            throw new Error(PGBOUNCER_MISSING);
          });
        })) as unknown as jest.Describe,
    };
  }
  process.stderr.write(PGBOUNCER_MISSING);
  return { bin: '', describe: describe.skip };
}
