import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.SWITCHYARD_SCALE_BUILD;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
