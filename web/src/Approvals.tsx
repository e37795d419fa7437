import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiProblem, Page } from './api/client';
import type { OrderView } from './api/queries';
import { Table, when } from './ui';

type AwaitingOrder = OrderView & { approval: { expiresAt: string; decidedAt: string | null } | null };

const POLL_MS = 5000;
const QUEUE = '/v1/orders?status=awaiting_approval&limit=500';

/** The orders waiting for a trader's decision (one query, shared by the nav's badge and the screen). */
export function useApprovalQueue() {
  return useQuery({ queryKey: ['approvals'], queryFn: () => api<Page<AwaitingOrder>>('GET', QUEUE), refetchInterval: POLL_MS });
}

/** The nav label with the queue's count: "Approvals (3)", or just "Approvals" when nothing waits. */
export function ApprovalsLabel() {
  const queue = useApprovalQueue();
  const items = queue.data?.items.length ?? 0;
  if (!items) return <>Approvals</>;
  const count = queue.data?.nextCursor ? `${items}+` : String(items);
  return (
    <>
      Approvals <span className="badge">{count} waiting</span>
    </>
  );
}

/**
 * Manual approval: orders of routes set to `approval: manual` wait here until a trader approves (the worker then sends
 * them, after the kill switches are checked again) or rejects them with a reason, or until they expire.
 */
export function Approvals({ canDecide }: { canDecide: boolean }) {
  const queue = useApprovalQueue();
  return (
    <section aria-labelledby="approvals-heading">
      <h2 id="approvals-heading">Approvals</h2>
      <p>Orders of manual-approval routes wait here. Approving one sends it; rejecting one needs a reason. Unanswered, an order expires and is never sent.</p>
      {queue.isError && <p role="alert">{queue.error.message}</p>}
      {queue.data && queue.data.items.length === 0 && <p>Nothing is waiting for approval.</p>}
      {!!queue.data?.items.length && (
        <Table caption="Orders awaiting approval, newest first">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Planned</th>
              <th scope="col">Expires</th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {queue.data.items.map((o) => (
              <tr key={o.id}>
                <td>
                  {[o.intent, o.side, o.quantity, o.symbol, o.type].filter(Boolean).join(' ')} on {o.broker}
                  {o.leg > 0 && " (the reversal's opening leg: decided with its close)"}
                </td>
                <td>{when(o.timings.routedAt)}</td>
                <td>{when(o.approval?.expiresAt)}</td>
                <td>{canDecide ? o.leg === 0 ? <Decide order={o} /> : '—' : 'Traders decide.'}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </section>
  );
}

function Decide({ order }: { order: AwaitingOrder }) {
  const queries = useQueryClient();
  const [reason, setReason] = useState('');
  const what = `${order.side ?? order.intent} ${order.symbol}`;
  const decide = useMutation({
    mutationFn: (to: 'approve' | 'reject') => api<AwaitingOrder>('POST', `/v1/orders/${order.id}/${to}`, reason.trim() ? { reason: reason.trim() } : {}),
    onSettled: () => void queries.invalidateQueries({ queryKey: ['approvals'] }),
  });
  const problem = decide.error instanceof ApiProblem ? (decide.error.about('reason') ?? decide.error.message) : decide.error?.message;
  return (
    <form onSubmit={(e) => e.preventDefault()}>
      <label>
        Reason for {what} <input name="reason" value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
      </label>{' '}
      <button type="button" disabled={decide.isPending} onClick={() => decide.mutate('approve')}>
        Approve {what}
      </button>{' '}
      <button type="button" disabled={decide.isPending || !reason.trim()} onClick={() => decide.mutate('reject')}>
        Reject {what}
      </button>
      {problem && (
        <p role="alert" className="problem">
          {problem}
        </p>
      )}
    </form>
  );
}
