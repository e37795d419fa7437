import ts from 'typescript';

/**
 * Lock 1 of "only the routing worker can decrypt", as a static check over the TypeScript AST.
 * Outside the allowed files, nothing may import or name the CredentialOpener, and no decrypt call
 * may receive a broker-credential encryption context. A decrypt call is KMS `decrypt`,
 * `openSealedSecret`, `new DecryptCommand`, or a function/method that forwards its own parameters
 * into one. An argument carries the purpose when it holds the literal, a value that does (a
 * variable, across files too), or the result of calling a function or method that returns one
 * (e.g. brokerCredentialContext). Taint follows what values are and what functions return, not
 * every name a body mentions: a policy table that lists the purpose does not taint its readers.
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
  /** Exported functions and values that build or hold a broker-credential context. */
  purposeBuilders: Set<string>;
  /** Methods whose body builds one. */
  purposeMethods: Set<string>;
  /** Names that decrypt when called: the primitives plus every exported wrapper of one. */
  decryptCallees: Set<string>;
}

const BROKER_CREDENTIAL_PURPOSE = 'broker-credential';
const ALLOWED = [/^src\/routing\//, /^src\/cli\/credentials-reveal\.command\.ts$/];
const OPENER_NAME = 'CredentialOpener';
const OPENER_MODULE = /credential-opener/i;
const DECRYPT_PRIMITIVES = ['decrypt', 'openSealedSecret', 'DecryptCommand'];

/** What an expression mentions: the purpose literal, the names it reads, and the names it calls. */
interface Mentions {
  literal: boolean;
  refs: Set<string>;
  calls: Set<string>;
}

interface CallSite {
  callee: string;
  line: number;
  /** What the arguments evaluate from (callbacks passed along are not looked into). */
  args: Mentions;
}

/** A function or method that could forward a context into a decrypt call. */
interface Callable {
  name: string;
  exported: boolean;
  /** Methods join the project-wide callees only by calling a primitive or a function wrapper: method names are too common to chain on. */
  method: boolean;
  params: Set<string>;
  calls: CallSite[];
}

/**
 * A name bound to a value (what its initializer evaluates from) or to a function or method (what it
 * returns); `exportedAs` is what other files can import it as.
 */
interface Binding {
  name: string;
  kind: 'value' | 'function' | 'method';
  mentions: Mentions;
  exportedAs: string[];
}

interface FileFacts {
  path: string;
  openerImports: Violation[];
  openerReferences: Violation[];
  imports: Array<{ imported: string; local: string }>;
  bindings: Binding[];
  callables: Callable[];
  calls: CallSite[];
}

/** Local names of one file that hold a context (values) or build one when called (functions). */
interface Taint {
  values: Set<string>;
  functions: Set<string>;
}

interface Builders {
  values: Set<string>;
  functions: Set<string>;
  methods: Set<string>;
}

const factsCache = new Map<string, FileFacts>();

export function analyseDecryptPath(files: SourceText[]): DecryptPathAnalysis {
  const facts = files.map((f) => {
    const key = `${f.path}\u0000${f.text}`;
    let entry = factsCache.get(key);
    if (!entry) factsCache.set(key, (entry = extractFacts(f)));
    return entry;
  });

  const builders: Builders = { values: new Set(), functions: new Set(), methods: new Set() };
  const decryptCallees = new Set(DECRYPT_PRIMITIVES);
  const functionWrappers = new Set<string>();
  // These sets only grow, so iterating to a fixpoint follows builders and wrappers through any number of files.
  for (let changed = true; changed;) {
    changed = false;
    for (const file of facts) {
      const taint = taintOf(file, builders);
      for (const b of file.bindings) {
        if (b.kind === 'method') {
          if (!builders.methods.has(b.name) && holdsContext(b.mentions, taint, NO_METHODS)) changed = addTo(builders.methods, b.name);
          continue;
        }
        const set = b.kind === 'value' ? taint.values : taint.functions;
        const global = b.kind === 'value' ? builders.values : builders.functions;
        if (!set.has(b.name)) continue;
        for (const name of b.exportedAs) if (!global.has(name)) changed = addTo(global, name);
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
    .filter((f) => !ALLOWED.some((pattern) => pattern.test(f.path)))
    .flatMap((file) => {
      const taint = taintOf(file, builders);
      const callees = localCallees(file, decryptCallees);
      for (const c of file.callables) if (!c.exported && forwardsIntoDecrypt(c, callees)) callees.add(c.name);
      const decrypts = file.calls
        .filter((call) => callees.has(call.callee) && holdsContext(call.args, taint, builders.methods))
        .map((call): Violation => ({
          path: file.path,
          line: call.line,
          rule: 'decrypts-broker-credential',
          detail: `${call.callee}(...) with purpose '${BROKER_CREDENTIAL_PURPOSE}'`,
        }));
      return [...file.openerImports, ...file.openerReferences, ...decrypts];
    })
    .filter((v, i, all) => all.findIndex((w) => w.path === v.path && w.rule === v.rule && w.line === v.line) === i);
  return { violations, purposeBuilders: new Set([...builders.values, ...builders.functions]), purposeMethods: builders.methods, decryptCallees };
}

function addTo(set: Set<string>, name: string): true {
  set.add(name);
  return true;
}

function some(names: Set<string>, set: Set<string>): boolean {
  for (const n of names) if (set.has(n)) return true;
  return false;
}

/** The expression evaluates to (something holding) a broker-credential context. */
function holdsContext(m: Mentions, taint: Taint, methods: Set<string>): boolean {
  return m.literal || some(m.refs, taint.values) || some(m.calls, taint.functions) || some(m.calls, methods);
}

// What functions and methods return never chains through method names: `get` or `find` are too common to follow.
const NO_METHODS = new Set<string>();

function forwardsIntoDecrypt(c: Callable, callees: Set<string>): boolean {
  return c.calls.some((call) => callees.has(call.callee) && some(call.args.refs, c.params));
}

function taintOf(file: FileFacts, builders: Builders): Taint {
  const taint: Taint = { values: new Set(), functions: new Set() };
  for (const i of file.imports) {
    if (builders.values.has(i.imported)) taint.values.add(i.local);
    if (builders.functions.has(i.imported)) taint.functions.add(i.local);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const b of file.bindings) {
      if (b.kind === 'value' && !taint.values.has(b.name) && holdsContext(b.mentions, taint, builders.methods)) changed = addTo(taint.values, b.name);
      if (b.kind === 'function' && !taint.functions.has(b.name) && holdsContext(b.mentions, taint, NO_METHODS)) changed = addTo(taint.functions, b.name);
    }
  }
  return taint;
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
  const bind = (name: string, kind: Binding['kind'], value: ts.Node) =>
    facts.bindings.push({
      name,
      kind,
      mentions: kind === 'value' ? mentions(value, name) : returned(value as ts.FunctionLikeDeclaration, name),
      exportedAs: kind === 'method' ? [] : (exportedNames.get(name) ?? []),
    });
  const callable = (name: string, node: ts.SignatureDeclaration & { body?: ts.Node }, exported: boolean, method: boolean) =>
    facts.callables.push({
      name,
      exported,
      method,
      params: new Set(node.parameters.flatMap((p) => boundNames(p.name))),
      calls: node.body ? callSites(node.body, lineOf) : [],
    });

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
      const fn = names.length === 1 && isFunctionLike(node.initializer) ? node.initializer : undefined;
      for (const name of names) bind(name, fn ? 'function' : 'value', fn ?? node.initializer);
      if (fn) callable(names[0], fn, exportedNames.has(names[0]), false);
    }
    if (ts.isFunctionDeclaration(node) && node.name && node.body) {
      bind(node.name.text, 'function', node);
      callable(node.name.text, node, exportedNames.has(node.name.text), false);
    }
    if (ts.isClassDeclaration(node) && node.name) {
      const exported = exportedNames.has(node.name.text);
      for (const member of node.members) {
        const fn = ts.isMethodDeclaration(member)
          ? member
          : ts.isPropertyDeclaration(member) && member.initializer && isFunctionLike(member.initializer)
            ? member.initializer
            : undefined;
        if (!fn || !member.name || !ts.isIdentifier(member.name)) continue;
        bind(member.name.text, 'method', fn);
        callable(member.name.text, fn, exported, true);
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

/** `f(...)`, `x.f(...)`, `x['f'](...)`, `new F(...)`, `new x.F(...)` under `root`, each with what its arguments evaluate from. */
function callSites(root: ts.Node, lineOf: (n: ts.Node) => number): CallSite[] {
  const sites: CallSite[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = calleeName(node.expression);
      if (callee) {
        const args = (node.arguments ?? []).map((a) => mentions(a));
        sites.push({
          callee,
          line: lineOf(node),
          args: { literal: args.some((a) => a.literal), refs: new Set(args.flatMap((a) => [...a.refs])), calls: new Set(args.flatMap((a) => [...a.calls])) },
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(root);
  return sites;
}

/** What the returned expressions of `fn` mention (an arrow's expression body is its return). */
function returned(fn: ts.FunctionLikeDeclaration, self: string): Mentions {
  const all: Mentions = { literal: false, refs: new Set(), calls: new Set() };
  const merge = (m: Mentions) => {
    all.literal ||= m.literal;
    for (const r of m.refs) all.refs.add(r);
    for (const c of m.calls) all.calls.add(c);
  };
  if (!fn.body) return all;
  if (!ts.isBlock(fn.body)) {
    merge(mentions(fn.body, self));
    return all;
  }
  const visit = (n: ts.Node): void => {
    if (isNestedFunction(n)) return;
    if (ts.isReturnStatement(n) && n.expression) merge(mentions(n.expression, self));
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(fn.body, visit);
  return all;
}

/** What `root` evaluates from. Callbacks and nested functions are skipped: they are held, not evaluated. */
function mentions(root: ts.Node, self?: string): Mentions {
  const m: Mentions = { literal: false, refs: new Set(), calls: new Set() };
  const visit = (n: ts.Node): void => {
    if (isNestedFunction(n)) return;
    if (ts.isStringLiteralLike(n) && n.text === BROKER_CREDENTIAL_PURPOSE) m.literal = true;
    if ((ts.isCallExpression(n) || ts.isNewExpression(n)) && calleeName(n.expression)) m.calls.add(calleeName(n.expression)!);
    if (ts.isIdentifier(n) && n.text !== self && !isPropertyName(n) && !isCallee(n)) m.refs.add(n.text);
    ts.forEachChild(n, visit);
  };
  visit(root);
  return m;
}

/** `x.name`, `{ name: v }`, `name() {}`: a key, not a reference (shorthand `{ name }` is a reference). */
function isPropertyName(id: ts.Identifier): boolean {
  const parent = id.parent;
  return (
    (ts.isPropertyAccessExpression(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isMethodDeclaration(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isPropertySignature(parent)) &&
    parent.name === id
  );
}

function isCallee(id: ts.Identifier): boolean {
  const parent = id.parent;
  return (ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression === id;
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

function isNestedFunction(node: ts.Node): boolean {
  return isFunctionLike(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isClassLike(node);
}

function boundNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : boundNames(e.name)));
}
