import ts from 'typescript';

/**
 * Lock 1 of "only the routing worker can decrypt", as a static check over the TypeScript AST.
 * Outside the allowed files, nothing may import or name the CredentialOpener, and no decrypt call
 * may receive a broker-credential encryption context. A decrypt call is KMS `decrypt`,
 * `openSealedSecret`, `new DecryptCommand`, or a function/method that forwards its own parameters
 * into one. The context counts whether the purpose is written inline, held in a variable, or built
 * by a function anywhere in the project whose definition carries it (e.g. brokerCredentialContext).
 */

export interface SourceText {
  /** Repository-relative, forward slashes: `src/credentials/x.ts`. */
  path: string;
  text: string;
}

export type DecryptPathRule = 'imports-opener' | 'references-opener' | 'decrypts-broker-credential';

export interface Violation {
  path: string;
  line: number;
  rule: DecryptPathRule;
  detail: string;
}

export interface DecryptPathAnalysis {
  violations: Violation[];
  /** Exported names whose definition carries the purpose (e.g. brokerCredentialContext). */
  purposeBuilders: Set<string>;
  /** Methods whose body carries the purpose: calling one builds a broker-credential context. */
  purposeMethods: Set<string>;
  /** Names that decrypt when called: the primitives plus every exported wrapper of one. */
  decryptCallees: Set<string>;
}

const BROKER_CREDENTIAL_PURPOSE = 'broker-credential';
const ALLOWED = [/^src\/routing\//, /^src\/cli\/credentials-reveal\.command\.ts$/];
const OPENER_NAME = 'CredentialOpener';
const OPENER_MODULE = /credential-opener/i;
const DECRYPT_PRIMITIVES = ['decrypt', 'openSealedSecret', 'DecryptCommand'];

/** What an expression mentions: the purpose literal, and every identifier it references. */
interface Mentions {
  literal: boolean;
  refs: Set<string>;
}

interface CallSite {
  callee: string;
  line: number;
  args: Mentions;
}

/** A function or method that could forward a context into a decrypt call. */
interface Callable {
  name: string;
  exported: boolean;
  /** Methods join the project-wide callees only when they call a primitive or a function wrapper: method names are too common to chain on. */
  method: boolean;
  params: Set<string>;
  calls: CallSite[];
}

interface FileFacts {
  path: string;
  openerImports: Violation[];
  openerReferences: Violation[];
  imports: Array<{ imported: string; local: string }>;
  /** Names bound to a value or a body; `exportedAs` is what other files can import it as. */
  bindings: Array<{ name: string; value: Mentions; exportedAs: string[]; method: boolean }>;
  callables: Callable[];
  calls: CallSite[];
}

function isAllowedDecryptPath(path: string): boolean {
  return ALLOWED.some((pattern) => pattern.test(path));
}

const factsCache = new Map<string, FileFacts>();

export function analyseDecryptPath(files: SourceText[]): DecryptPathAnalysis {
  const facts = files.map((f) => {
    const key = `${f.path}\u0000${f.text}`;
    let entry = factsCache.get(key);
    if (!entry) factsCache.set(key, (entry = extractFacts(f)));
    return entry;
  });

  const purposeBuilders = new Set<string>();
  const purposeMethods = new Set<string>();
  const decryptCallees = new Set(DECRYPT_PRIMITIVES);
  const functionWrappers = new Set<string>();
  // These sets only grow, so iterating to a fixpoint follows builders and wrappers through any number of files.
  for (let changed = true; changed; ) {
    changed = false;
    for (const file of facts) {
      const tainted = taintedNames(file, purposeBuilders);
      for (const b of file.bindings) {
        if (b.method) {
          if (!purposeMethods.has(b.name) && carries(b.value, tainted)) changed = addTo(purposeMethods, b.name);
          continue;
        }
        if (!tainted.has(b.name)) continue;
        for (const name of b.exportedAs) {
          if (!purposeBuilders.has(name)) changed = addTo(purposeBuilders, name);
        }
      }
      const callees = localCallees(file, decryptCallees);
      const chainable = localCallees(file, new Set([...DECRYPT_PRIMITIVES, ...functionWrappers]));
      for (const c of file.callables) {
        if (!c.exported || decryptCallees.has(c.name) || !forwardsIntoDecrypt(c, c.method ? chainable : callees)) continue;
        changed = addTo(decryptCallees, c.name);
        if (!c.method) functionWrappers.add(c.name);
      }
    }
  }

  const violations = facts
    .filter((f) => !isAllowedDecryptPath(f.path))
    .flatMap((file) => {
      const tainted = new Set([...taintedNames(file, purposeBuilders), ...purposeMethods]);
      const callees = localCallees(file, decryptCallees);
      for (const c of file.callables) if (!c.exported && forwardsIntoDecrypt(c, callees)) callees.add(c.name);
      const decrypts = file.calls
        .filter((call) => callees.has(call.callee) && carries(call.args, tainted))
        .map((call): Violation => ({ path: file.path, line: call.line, rule: 'decrypts-broker-credential', detail: `${call.callee}(...) with purpose '${BROKER_CREDENTIAL_PURPOSE}'` }));
      return [...file.openerImports, ...file.openerReferences, ...decrypts];
    })
    .filter((v, i, all) => all.findIndex((w) => w.path === v.path && w.rule === v.rule && w.line === v.line) === i);
  return { violations, purposeBuilders, purposeMethods, decryptCallees };
}

function addTo(set: Set<string>, name: string): true {
  set.add(name);
  return true;
}

function carries(m: Mentions, tainted: Set<string>): boolean {
  return m.literal || [...m.refs].some((r) => tainted.has(r));
}

function forwardsIntoDecrypt(c: Callable, callees: Set<string>): boolean {
  return c.calls.some((call) => callees.has(call.callee) && [...call.args.refs].some((r) => c.params.has(r)));
}

/**
 * Local values and functions carrying the purpose, including imports of known builders. Methods do
 * not chain through other methods: names like `create` or `get` are too common to follow.
 */
function taintedNames(file: FileFacts, purposeBuilders: Set<string>): Set<string> {
  const tainted = new Set(file.imports.filter((i) => purposeBuilders.has(i.imported)).map((i) => i.local));
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of file.bindings) {
      if (!b.method && !tainted.has(b.name) && carries(b.value, tainted)) changed = addTo(tainted, b.name);
    }
  }
  return tainted;
}

/** Callees as this file can call them: the given names plus local aliases of imported ones. */
function localCallees(file: FileFacts, names: Set<string>): Set<string> {
  const local = new Set(names);
  for (const i of file.imports) if (names.has(i.imported)) local.add(i.local);
  return local;
}

function extractFacts(file: SourceText): FileFacts {
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const facts: FileFacts = { path: file.path, openerImports: [], openerReferences: [], imports: [], bindings: [], callables: [], calls: [] };
  const openerImport = (node: ts.Node, detail: string) => facts.openerImports.push({ path: file.path, line: lineOf(node), rule: 'imports-opener', detail });
  const exportedNames = localExportNames(sf);
  const bind = (name: string, value: ts.Node) => facts.bindings.push({ name, value: mentions(value, name), exportedAs: exportedNames.get(name) ?? [], method: false });
  const callable = (name: string, node: ts.SignatureDeclaration & { body?: ts.Node }, exported: boolean, method: boolean) =>
    facts.callables.push({ name, exported, method, params: new Set(node.parameters.flatMap((p) => boundNames(p.name))), calls: node.body ? callSites(node.body, lineOf) : [] });

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      const specifier = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : undefined;
      if (specifier && OPENER_MODULE.test(specifier)) openerImport(node, `imports '${specifier}'`);
      const named = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
      if (named && (ts.isNamedImports(named) || ts.isNamedExports(named))) {
        for (const s of named.elements) {
          const imported = (s.propertyName ?? s.name).text;
          if (imported === OPENER_NAME) openerImport(s, `imports ${OPENER_NAME}`);
          if (ts.isImportSpecifier(s)) facts.imports.push({ imported, local: s.name.text });
        }
      }
      return;
    }
    if (ts.isCallExpression(node) && isModuleLoad(node)) {
      const [specifier] = node.arguments;
      if (specifier && ts.isStringLiteralLike(specifier) && OPENER_MODULE.test(specifier.text)) openerImport(node, `loads '${specifier.text}'`);
    }
    if (ts.isIdentifier(node) && node.text === OPENER_NAME) {
      facts.openerReferences.push({ path: file.path, line: lineOf(node), rule: 'references-opener', detail: `names ${OPENER_NAME}` });
    }
    if (ts.isVariableDeclaration(node) && node.initializer) {
      const names = boundNames(node.name);
      for (const name of names) bind(name, node.initializer);
      if (names.length === 1 && isFunctionLike(node.initializer)) callable(names[0], node.initializer, exportedNames.has(names[0]), false);
    }
    if (ts.isFunctionDeclaration(node) && node.name) {
      bind(node.name.text, node);
      callable(node.name.text, node, exportedNames.has(node.name.text), false);
    }
    if (ts.isClassDeclaration(node) && node.name) {
      const exported = exportedNames.has(node.name.text);
      for (const member of node.members) {
        const value = ts.isMethodDeclaration(member) ? member.body : ts.isPropertyDeclaration(member) ? member.initializer : undefined;
        if (!value || !ts.isIdentifier(member.name!)) continue;
        const name = (member.name as ts.Identifier).text;
        facts.bindings.push({ name, value: mentions(value, name), exportedAs: [], method: true });
        if (ts.isMethodDeclaration(member)) callable(name, member, exported, true);
        else if (isFunctionLike(value)) callable(name, value, exported, true);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  facts.calls = callSites(sf, lineOf);
  return facts;
}

/** Local name → names it is exported under (`export const x`, `export function x`, `export { x as y }`). */
function localExportNames(sf: ts.SourceFile): Map<string, string[]> {
  const names = new Map<string, string[]>();
  const add = (local: string, exported: string) => names.set(local, [...(names.get(local) ?? []), exported]);
  for (const statement of sf.statements) {
    if (ts.isExportDeclaration(statement) && !statement.moduleSpecifier && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      for (const s of statement.exportClause.elements) add((s.propertyName ?? s.name).text, s.name.text);
      continue;
    }
    const exported = ts.canHaveModifiers(statement) && (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) add(statement.name.text, statement.name.text);
    if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) for (const n of boundNames(d.name)) add(n, n);
  }
  return names;
}

/** `f(...)`, `x.f(...)`, `x['f'](...)`, `new F(...)`, `new x.F(...)` under `root`, each with what its arguments mention. */
function callSites(root: ts.Node, lineOf: (n: ts.Node) => number): CallSite[] {
  const sites: CallSite[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = calleeName(node.expression);
      if (callee) {
        const args = (node.arguments ?? []).map((a) => mentions(a));
        sites.push({ callee, line: lineOf(node), args: { literal: args.some((a) => a.literal), refs: new Set(args.flatMap((a) => [...a.refs])) } });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(root);
  return sites;
}

function mentions(node: ts.Node, self?: string): Mentions {
  const m: Mentions = { literal: false, refs: new Set() };
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteralLike(n) && n.text === BROKER_CREDENTIAL_PURPOSE) m.literal = true;
    if (ts.isIdentifier(n) && n.text !== self && !isPropertyName(n)) m.refs.add(n.text);
    ts.forEachChild(n, visit);
  };
  visit(node);
  return m;
}

/** `x.name`, `{ name: v }`, `name() {}`: a key, not a reference (shorthand `{ name }` and a called `x.name()` are references). */
function isPropertyName(id: ts.Identifier): boolean {
  const parent = id.parent;
  if (ts.isPropertyAccessExpression(parent) && ts.isCallExpression(parent.parent) && parent.parent.expression === parent) return false;
  return (
    (ts.isPropertyAccessExpression(parent) || ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertySignature(parent)) &&
    parent.name === id
  );
}

function calleeName(expression: ts.Expression): string | undefined {
  if (ts.isIdentifier(expression)) return expression.text;
  if (ts.isPropertyAccessExpression(expression)) return expression.name.text;
  if (ts.isElementAccessExpression(expression) && ts.isStringLiteralLike(expression.argumentExpression)) return expression.argumentExpression.text;
  return undefined;
}

function isModuleLoad(call: ts.CallExpression): boolean {
  return call.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(call.expression) && call.expression.text === 'require');
}

function isFunctionLike(node: ts.Node): node is ts.ArrowFunction | ts.FunctionExpression {
  return ts.isArrowFunction(node) || ts.isFunctionExpression(node);
}

function boundNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : boundNames(e.name)));
}
