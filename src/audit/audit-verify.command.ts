import type { AuditVerifier, WorkspaceVerification } from './audit-verifier';

/**
 * `cli audit verify [--workspace <id>]`: verifies one workspace's chain, or every chain (the
 * platform chain included). Prints one line per workspace; returns the exit code (0 all ok, 1 a break).
 */
export async function auditVerifyCommand(verifier: AuditVerifier, options: { workspace?: string }, print: (line: string) => void): Promise<number> {
  const results: WorkspaceVerification[] = options.workspace
    ? [{ workspaceId: options.workspace, ...(await verifier.verify(options.workspace)) }]
    : await verifier.verifyAll();
  for (const r of results) {
    if (r.ok) {
      print(`${r.workspaceId} ok events=${r.events} head=${r.head?.seq ?? 0} checkpoint=${r.checkpoint?.seq ?? 'none'}`);
    } else {
      print(`${r.workspaceId} BROKEN at seq ${r.firstBrokenSeq} (${r.reason}): ${r.detail}`);
    }
  }
  if (results.length === 0) print('no audit chains yet');
  return results.every((r) => r.ok) ? 0 : 1;
}
