import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.SWITCHYARD_SCALE_BUILD;
  if (dir && process.env.SWITCHYARD_SCALE_BUILD_OWNED) rmSync(dir, { recursive: true, force: true });
}
