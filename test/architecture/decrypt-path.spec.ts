import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { analyseDecryptPath, SourceText } from './decrypt-path-checker';

const ROOT = join(__dirname, '..', '..');

function sourceFiles(dir: string): SourceText[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    if (!entry.name.endsWith('.ts')) return [];
    return [{ path: relative(ROOT, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }];
  });
}

const src = sourceFiles(join(ROOT, 'src'));

/** Runs the checker on the real tree plus fixture files (which replace real files of the same path). */
function violationsWith(...fixtures: SourceText[]) {
  const paths = new Set(fixtures.map((f) => f.path));
  return analyseDecryptPath([...src.filter((f) => !paths.has(f.path)), ...fixtures]).violations.filter((v) => paths.has(v.path));
}

describe('lock 1: only src/routing (and the break-glass command) may reach the broker-credential decrypt path', () => {
  it('holds for every file under src/', () => {
    const analysis = analyseDecryptPath(src);
    expect(analysis.violations).toEqual([]);
  });

  it('really reads the tree: it finds the sealing side and the decrypt primitives', () => {
    const paths = src.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['src/kms/envelope.ts', 'src/credentials/credential-sealer.ts', 'src/credentials/connections.service.ts']));
    const analysis = analyseDecryptPath(src);
    // The context builder the api seals with is known as carrying the purpose, and openSealedSecret as a decrypt wrapper.
    expect(analysis.purposeBuilders).toContain('brokerCredentialContext');
    expect([...analysis.decryptCallees]).toEqual(expect.arrayContaining(['decrypt', 'openSealedSecret', 'DecryptCommand']));
  });
});

describe('the checker fails on violations (fixtures)', () => {
  const at = (path: string, text: string): SourceText => ({ path, text });

  it.each([
    ['a named import', `import { CredentialOpener } from '../routing/credential-opener';`],
    ['an aliased import from a barrel', `import { CredentialOpener as Reader } from '../routing';\nexport const r = Reader;`],
    ['a default/namespace import of the module', `import * as opener from '../routing/credential-opener';\nexport const o = opener;`],
    ['a re-export', `export * from '../routing/credential-opener';`],
    ['a dynamic import', `export const load = () => import('../routing/credential-opener');`],
    ['a require', `// eslint-disable-next-line\nexport const m = require('../routing/credential-opener');`],
  ])('flags importing the opener through %s', (_how, text) => {
    expect(violationsWith(at('src/credentials/leak.ts', text))).toEqual([expect.objectContaining({ path: 'src/credentials/leak.ts', rule: 'imports-opener' })]);
  });

  it('flags naming the opener through a namespace', () => {
    const text = `import * as routing from '../routing/routing.module';\nexport const o = new routing.CredentialOpener();`;
    expect(violationsWith(at('src/signals/leak.ts', text))).toEqual([expect.objectContaining({ rule: 'references-opener', line: 2 })]);
  });

  it.each([
    [
      'openSealedSecret with an inline context',
      `import { openSealedSecret } from '../kms/envelope';
export const f = (kms: any, s: any) => openSealedSecret(kms, s, { purpose: 'broker-credential', workspaceId: 'w', connectionId: 'c', version: '1' });`,
    ],
    [
      'kms.decrypt with a context held in a variable',
      `const purpose = 'broker-credential' as const;
export async function f(kms: any, w: Buffer) {
  const ctx = { purpose, workspaceId: 'w', connectionId: 'c', version: '1' };
  return kms.decrypt(w, ctx);
}`,
    ],
    ['kms["decrypt"] with a template literal purpose', "export const f = (kms: any, w: Buffer) => kms['decrypt'](w, { purpose: `broker-credential` });"],
    [
      'an aliased openSealedSecret',
      `import { openSealedSecret as open } from '../kms/envelope';
export const f = (kms: any, s: any) => open(kms, s, { purpose: 'broker-credential' });`,
    ],
    [
      'the SDK DecryptCommand',
      `import { DecryptCommand } from '@aws-sdk/client-kms';
export const c = new DecryptCommand({ CiphertextBlob: new Uint8Array(), EncryptionContext: { purpose: 'broker-credential' } });`,
    ],
    [
      'a context built by a method',
      `export class Reader {
  private contextFor(connectionId: string) { return { purpose: 'broker-credential', connectionId }; }
  read(kms: any, w: Buffer, c: string) { return kms.decrypt(w, this.contextFor(c)); }
}`,
    ],
    [
      "the project's own context builder (brokerCredentialContext)",
      `import { openSealedSecret } from '../kms/envelope';
import { brokerCredentialContext } from '../credentials/credential-sealer';
export const f = (kms: any, s: any) => openSealedSecret(kms, s, brokerCredentialContext({ workspaceId: 'w', connectionId: 'c', version: 1 }));`,
    ],
  ])('flags a decrypt of purpose broker-credential: %s', (_how, text) => {
    expect(violationsWith(at('src/signals/leak.ts', text))).toEqual([
      expect.objectContaining({ path: 'src/signals/leak.ts', rule: 'decrypts-broker-credential' }),
    ]);
  });

  it('follows a decrypt laundered through a wrapper in another file', () => {
    const wrapper = at(
      'src/common/unwrap.ts',
      `import { openSealedSecret } from '../kms/envelope';
export function unwrapAny(kms: any, sealed: any, context: any) { return openSealedSecret(kms, sealed, context); }`,
    );
    const builder = at(
      'src/common/contexts.ts',
      `export const PURPOSE = 'broker-credential';\nexport const ctxFor = (c: string) => ({ purpose: PURPOSE, connectionId: c });`,
    );
    const caller = at(
      'src/signals/leak.ts',
      `import { unwrapAny } from '../common/unwrap';
import { ctxFor } from '../common/contexts';
export const f = (kms: any, s: any) => unwrapAny(kms, s, ctxFor('c'));`,
    );
    expect(violationsWith(wrapper, builder, caller)).toEqual([
      expect.objectContaining({ path: 'src/signals/leak.ts', rule: 'decrypts-broker-credential', line: 3 }),
    ]);
  });

  it('allows the same code in src/routing/ and in the break-glass command', () => {
    const text = `import { CredentialOpener } from './credential-opener';
import { openSealedSecret } from '../kms/envelope';
export const f = (kms: any, s: any) => openSealedSecret(kms, s, { purpose: 'broker-credential' });
export { CredentialOpener };`;
    expect(
      violationsWith(
        at('src/routing/somewhere.ts', text),
        at('src/cli/credentials-reveal.command.ts', text.replace('./credential-opener', '../routing/credential-opener')),
      ),
    ).toEqual([]);
  });

  it('allows sealing and re-wrapping broker credentials, opening webhook secrets, and prose about the opener', () => {
    const text = `import { openSealedSecret, sealSecret } from '../kms/envelope';
// The CredentialOpener in src/routing is the only decrypt path.
export const seal = (kms: any, p: Buffer) => sealSecret(kms, { purpose: 'broker-credential', workspaceId: 'w', connectionId: 'c', version: '1' }, p);
export const rewrap = (kms: any, w: Buffer) => kms.reEncrypt(w, { purpose: 'broker-credential' }, 'k2');
export const open = (kms: any, s: any) => openSealedSecret(kms, s, { purpose: 'webhook-secret', workspaceId: 'w', sourceId: 's', version: '1' });`;
    expect(violationsWith(at('src/credentials/ok.ts', text))).toEqual([]);
  });
});
