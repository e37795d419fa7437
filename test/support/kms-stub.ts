/**
 * A small AWS KMS wire-protocol stub (JSON 1.1, `X-Amz-Target: TrentService.*`) for driving the real
 * @aws-sdk/client-kms in tests. It verifies SigV4 like the service does, maps access keys to the
 * api/worker/cli principals, applies the shared KMS policy, and binds ciphertexts to key and context.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { canonicalEncryptionContext } from '../../src/kms/envelope';
import { KmsAccessDeniedError } from '../../src/kms/kms-errors';
import { assertKmsAllowed } from '../../src/kms/kms-policy';
import type { KmsPrincipal } from '../../src/kms/kms-provider';

export type KmsStubMode = 'up' | 'down' | 'throttle' | 'internal-error';

export interface KmsStubOptions {
  region?: string;
  accountId?: string;
}

export interface KmsStubCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface KmsStub {
  url: string;
  region: string;
  /** ARN of the key created at start. */
  keyId: string;
  /** Creates another symmetric key and returns its ARN. */
  createKey(): string;
  principals: Record<KmsPrincipal, KmsStubCredentials>;
  /** 'down' closes the listener and drops open sockets; 'up' listens again on the same port. */
  setMode(mode: KmsStubMode): Promise<void>;
  setLatencyMs(ms: number): void;
  /** Every authenticated call, in order. */
  calls: Array<{ target: string; principal: KmsPrincipal }>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
type StubBlob = { arn: string; key: Buffer; iv: Buffer; tag: Buffer; body: Buffer };

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const BLOB_VERSION = 1;

export async function startKmsStub(options: KmsStubOptions = {}): Promise<KmsStub> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '111122223333';
  const keys = new Map<string, Buffer>();
  const principals: Record<KmsPrincipal, KmsStubCredentials> = { api: newCredentials(), worker: newCredentials(), cli: newCredentials() };
  const calls: KmsStub['calls'] = [];
  const sockets = new Set<Socket>();
  let mode: KmsStubMode = 'up';
  let latencyMs = 0;

  const createKey = (): string => {
    const arn = `arn:aws:kms:${region}:${accountId}:key/${randomUUID()}`;
    keys.set(arn, randomBytes(32));
    return arn;
  };

  const resolveKey = (keyId: unknown): string => {
    if (typeof keyId !== 'string' || keyId === '') throw new KmsFault('ValidationException', 'KeyId is required');
    const arn = keyId.startsWith('arn:') ? keyId : `arn:aws:kms:${region}:${accountId}:key/${keyId}`;
    if (!keys.has(arn)) throw new KmsFault('NotFoundException', `Key '${keyId}' does not exist`);
    return arn;
  };

  // Blob: version(1) | ARN length(2) | ARN | iv(12) | tag(16) | ciphertext; AAD = canonical context.
  const seal = (arn: string, plaintext: Buffer, context: Record<string, string>): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keys.get(arn)!, iv, { authTagLength: 16 });
    cipher.setAAD(canonicalEncryptionContext(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const id = Buffer.from(arn, 'utf8');
    const header = Buffer.alloc(3);
    header.writeUInt8(BLOB_VERSION, 0);
    header.writeUInt16BE(id.length, 1);
    return Buffer.concat([header, id, iv, cipher.getAuthTag(), ciphertext]);
  };

  const parseBlob = (blob: Buffer): StubBlob => {
    const invalid = new KmsFault('InvalidCiphertextException', 'The ciphertext is invalid');
    if (blob.length < 3 || blob[0] !== BLOB_VERSION) throw invalid;
    const ivStart = 3 + blob.readUInt16BE(1);
    const tagStart = ivStart + 12;
    const bodyStart = tagStart + 16;
    const arn = blob.subarray(3, ivStart).toString('utf8');
    const key = keys.get(arn);
    if (!key || blob.length < bodyStart) throw invalid;
    return { arn, key, iv: blob.subarray(ivStart, tagStart), tag: blob.subarray(tagStart, bodyStart), body: blob.subarray(bodyStart) };
  };

  const open = (blob: StubBlob, context: Record<string, string>): Buffer => {
    try {
      const decipher = createDecipheriv('aes-256-gcm', blob.key, blob.iv, { authTagLength: 16 });
      decipher.setAAD(canonicalEncryptionContext(context));
      decipher.setAuthTag(blob.tag);
      return Buffer.concat([decipher.update(blob.body), decipher.final()]);
    } catch {
      throw new KmsFault('InvalidCiphertextException', 'The ciphertext is invalid or the encryption context does not match');
    }
  };

  const operations: Record<string, (principal: KmsPrincipal, input: Json) => Json> = {
    GenerateDataKey(principal, input) {
      const arn = resolveKey(input.KeyId);
      const context = encryptionContext(input.EncryptionContext, 'EncryptionContext');
      authorize(principal, 'GenerateDataKey', context);
      const plaintext = randomBytes(dataKeyLength(input));
      return { KeyId: arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: seal(arn, plaintext, context).toString('base64') };
    },
    Encrypt(principal, input) {
      const arn = resolveKey(input.KeyId);
      const context = encryptionContext(input.EncryptionContext, 'EncryptionContext');
      authorize(principal, 'Encrypt', context);
      const plaintext = blobField(input.Plaintext, 'Plaintext');
      if (plaintext.length > 4096) throw new KmsFault('ValidationException', 'Plaintext must be at most 4096 bytes');
      return { KeyId: arn, CiphertextBlob: seal(arn, plaintext, context).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt(principal, input) {
      const blob = parseBlob(blobField(input.CiphertextBlob, 'CiphertextBlob'));
      const context = encryptionContext(input.EncryptionContext, 'EncryptionContext');
      if (input.KeyId !== undefined && resolveKey(input.KeyId) !== blob.arn) {
        throw new KmsFault('IncorrectKeyException', 'The key ID in the request does not identify the KMS key that encrypted the ciphertext');
      }
      authorize(principal, 'Decrypt', context);
      return { KeyId: blob.arn, Plaintext: open(blob, context).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    ReEncrypt(principal, input) {
      const blob = parseBlob(blobField(input.CiphertextBlob, 'CiphertextBlob'));
      const sourceContext = encryptionContext(input.SourceEncryptionContext, 'SourceEncryptionContext');
      const destinationContext = encryptionContext(input.DestinationEncryptionContext, 'DestinationEncryptionContext');
      if (input.SourceKeyId !== undefined && resolveKey(input.SourceKeyId) !== blob.arn) {
        throw new KmsFault('IncorrectKeyException', 'The source key ID does not identify the KMS key that encrypted the ciphertext');
      }
      const destinationArn = resolveKey(input.DestinationKeyId);
      authorize(principal, 'ReEncrypt', sourceContext);
      authorize(principal, 'ReEncrypt', destinationContext);
      const dataKey = open(blob, sourceContext);
      return {
        CiphertextBlob: seal(destinationArn, dataKey, destinationContext).toString('base64'),
        SourceKeyId: blob.arn,
        KeyId: destinationArn,
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
  };

  const authenticate = (req: IncomingMessage, body: Buffer): KmsPrincipal =>
    verifySigV4(req, body, region, (accessKeyId) => {
      const entry = (Object.entries(principals) as Array<[KmsPrincipal, KmsStubCredentials]>).find(([, c]) => c.accessKeyId === accessKeyId);
      return entry ? { principal: entry[0], secretAccessKey: entry[1].secretAccessKey } : undefined;
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let status = 200;
    let payload: Json;
    try {
      const body = await readBody(req);
      const principal = authenticate(req, body);
      const target = req.headers['x-amz-target'];
      calls.push({ target: typeof target === 'string' ? target : '', principal });
      if (mode === 'throttle') throw new KmsFault('ThrottlingException', 'Rate exceeded');
      if (mode === 'internal-error') throw new KmsFault('KMSInternalException', 'An internal error occurred', 500);
      payload = dispatch(req, body, principal);
    } catch (error) {
      const fault = error instanceof KmsFault ? error : new KmsFault('KMSInternalException', 'An internal error occurred', 500);
      status = fault.status;
      payload = { __type: fault.type, message: fault.message };
    }
    if (latencyMs > 0) await delayUnlessClosed(latencyMs, res);
    if (res.destroyed) return;
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'Content-Type': JSON_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': randomUUID(),
    });
    res.end(text);
  };

  const dispatch = (req: IncomingMessage, body: Buffer, principal: KmsPrincipal): Json => {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? operations[target.slice(TARGET_PREFIX.length)] : undefined;
    if (req.method !== 'POST' || !operation) throw new KmsFault('UnknownOperationException', 'Unknown operation');
    if (req.headers['content-type']?.split(';')[0]?.trim() !== JSON_CONTENT_TYPE) {
      throw new KmsFault('SerializationException', `Content-Type must be ${JSON_CONTENT_TYPE}`);
    }
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      throw new KmsFault('SerializationException', 'The request body is not valid JSON');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new KmsFault('SerializationException', 'The request body must be a JSON object');
    }
    return operation(principal, input as Json);
  };

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const keyId = createKey();

  return {
    url: `http://127.0.0.1:${port}`,
    region,
    keyId,
    createKey,
    principals,
    calls,
    async setMode(next) {
      mode = next;
      if (next === 'down') await stopListening();
      else if (!server.listening) await listen(port);
    },
    setLatencyMs(ms) {
      latencyMs = ms;
    },
    close: stopListening,
  };
}

/** Waits out the configured latency, but no longer than the client keeps the connection. */
function delayUnlessClosed(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function authorize(principal: KmsPrincipal, operation: 'GenerateDataKey' | 'Decrypt' | 'ReEncrypt' | 'Encrypt', context: Record<string, string>): void {
  try {
    assertKmsAllowed(principal, operation, context);
  } catch (error) {
    if (error instanceof KmsAccessDeniedError) {
      throw new KmsFault('AccessDeniedException', `User: ${principal} is not authorized to perform: kms:${operation} because no policy allows it`);
    }
    throw error;
  }
}

function dataKeyLength(input: Json): number {
  const { KeySpec, NumberOfBytes } = input;
  if ((KeySpec === undefined) === (NumberOfBytes === undefined)) {
    throw new KmsFault('ValidationException', 'Specify either KeySpec or NumberOfBytes, but not both');
  }
  if (KeySpec === 'AES_256') return 32;
  if (KeySpec === 'AES_128') return 16;
  if (typeof NumberOfBytes === 'number' && Number.isInteger(NumberOfBytes) && NumberOfBytes >= 1 && NumberOfBytes <= 1024) return NumberOfBytes;
  throw new KmsFault('ValidationException', 'KeySpec must be AES_256 or AES_128, or NumberOfBytes between 1 and 1024');
}

function encryptionContext(value: unknown, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new KmsFault('ValidationException', `${field} must be a map of strings`);
  }
  return value as Record<string, string>;
}

function blobField(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value === '') throw new KmsFault('ValidationException', `${field} is required`);
  return Buffer.from(value, 'base64');
}

function newCredentials(): KmsStubCredentials {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = Array.from(randomBytes(16), (b) => alphabet[b % alphabet.length]).join('');
  return { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString('base64') };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new KmsFault('ValidationException', 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---- AWS Signature Version 4 verification (header form) ----

type SecretLookup = (accessKeyId: string) => { principal: KmsPrincipal; secretAccessKey: string } | undefined;

const AUTHORIZATION_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})$/;

function verifySigV4(req: IncomingMessage, body: Buffer, region: string, lookup: SecretLookup): KmsPrincipal {
  const authorization = req.headers.authorization;
  if (!authorization) throw new KmsFault('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const match = AUTHORIZATION_PATTERN.exec(authorization.trim());
  if (!match) throw new KmsFault('IncompleteSignatureException', 'Authorization header is not a valid AWS4-HMAC-SHA256 header');
  const [, accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaderList, signature] = match;

  const identity = lookup(accessKeyId);
  if (!identity) throw new KmsFault('UnrecognizedClientException', 'The security token included in the request is invalid.');

  const amzDate = headerValues(req, 'x-amz-date');
  const signedHeaders = signedHeaderList.split(';');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) throw new KmsFault('IncompleteSignatureException', 'X-Amz-Date is missing or malformed');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    throw new KmsFault('InvalidSignatureException', "'Host' and 'X-Amz-Date' must be signed headers");
  }
  if (scopeDate !== amzDate.slice(0, 8) || scopeRegion !== region || scopeService !== 'kms') {
    throw new KmsFault('InvalidSignatureException', `Credential should be scoped to '${amzDate.slice(0, 8)}/${region}/kms/aws4_request'`);
  }
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (!(Math.abs(Date.now() - signedAt) <= MAX_CLOCK_SKEW_MS)) {
    throw new KmsFault('InvalidSignatureException', 'Signature expired: the request time is too far from the server time');
  }

  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2);
  const canonicalRequest = [
    req.method ?? '',
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    signedHeaders.map((name) => `${name}:${headerValues(req, name)}\n`).join(''),
    signedHeaderList,
    sha256Hex(body),
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(Buffer.from(canonicalRequest, 'utf8'))].join('\n');
  const signingKey = [scopeDate, scopeRegion, scopeService, 'aws4_request'].reduce<Buffer>(
    (key, part) => hmac(key, part),
    Buffer.from(`AWS4${identity.secretAccessKey}`, 'utf8'),
  );
  const expected = hmac(signingKey, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new KmsFault(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return identity.principal;
}

/** All values of a header in arrival order, each trimmed with inner whitespace runs collapsed, joined by commas. */
function headerValues(req: IncomingMessage, name: string): string {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) values.push(req.rawHeaders[i + 1]!.trim().replace(/\s+/g, ' '));
  }
  return values.join(',');
}

// Services other than S3 sign the path with each segment URI-encoded once more ("double encoding").
function canonicalUri(rawPath: string): string {
  return rawPath.split('/').map(rfc3986).join('/') || '/';
}

function canonicalQuery(rawQuery: string): string {
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const [key = '', value = ''] = pair.split(/=(.*)/s, 2);
      return [rfc3986(decodeURIComponent(key)), rfc3986(decodeURIComponent(value))] as const;
    })
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
