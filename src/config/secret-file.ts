import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Publishes a secret file (0600, in a 0700 directory): written privately, synced, then hard-linked
 * into place. `link` fails with EEXIST instead of clobbering, so processes starting together all
 * end up with whichever content was published first, which this returns.
 */
export async function publishSecretFile(path: string, content: Buffer): Promise<Buffer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${randomUUID()}.tmp`);
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await link(temp, path);
    return content;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFile(path);
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

/** Reads a secret file, creating it with `generate()` on first use (see publishSecretFile). */
export async function readOrCreateSecretFile(path: string, generate: () => Buffer): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return publishSecretFile(path, generate());
}
