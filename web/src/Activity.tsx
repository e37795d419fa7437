import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, Page } from './api/client';
import { OrderView, SignalDetail, SignalView, useConnections, useSources } from './api/queries';
import type { paths } from './api/schema';
import { PagerButtons, Table, usePager, when } from './ui';

type SignalStatus = NonNullable<NonNullable<paths['/v1/signals']['get']['parameters']['query']>['status']>;
const STATUSES: SignalStatus[] = ['received', 'queued', 'routing', 'routed', 'partially_routed', 'blocked', 'failed'];
const PAGE_SIZE = 25;
// The newest page follows new signals; older pages hold still (they only change when orders settle).
const POLL_MS = 2000;

/** Signals with their orders, newest first, one page at a time (a workspace may hold millions), filtered by source, connection and status. */
export function Activity() {
  const sources = useSources();
  const connections = useConnections();
  const [filter, setFilter] = useState<{ sourceId?: string; connectionId?: string; status?: SignalStatus }>({});
  const pager = usePager();
  const [open, setOpen] = useState<string | null>(null);
  const cursor = pager.cursor;
  const query = new URLSearchParams({
    limit: String(PAGE_SIZE),
    ...(filter.sourceId && { sourceId: filter.sourceId }),
    ...(filter.connectionId && { connectionId: filter.connectionId }),
    ...(filter.status && { status: filter.status }),
    ...(cursor && { cursor }),
  });
  const page = useQuery({
    queryKey: ['signals', 'page', query.toString()],
    queryFn: () => api<Page<SignalView>>('GET', `/v1/signals?${query}`),
    refetchInterval: cursor ? false : POLL_MS,
    placeholderData: keepPreviousData,
  });
  const sourceName = (id: string) => sources.data?.items.find((s) => s.id === id)?.name ?? id;
  const connectionLabel = (id: string) => connections.data?.items.find((c) => c.id === id)?.label ?? id;
  const refilter = (next: typeof filter) => {
    setFilter(next);
    pager.reset();
  };
  return (
    <section aria-labelledby="activity-heading">
      <h2 id="activity-heading">Activity</h2>
      <form aria-label="Filter signals" onSubmit={(e) => e.preventDefault()}>
        <label>
          Source
          <select value={filter.sourceId ?? ''} onChange={(e) => refilter({ ...filter, sourceId: e.target.value || undefined })}>
            <option value="">all sources</option>
            {sources.data?.items.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Connection
          <select value={filter.connectionId ?? ''} onChange={(e) => refilter({ ...filter, connectionId: e.target.value || undefined })}>
            <option value="">all connections</option>
            {connections.data?.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.label} ({c.broker})
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filter.status ?? ''} onChange={(e) => refilter({ ...filter, status: (e.target.value || undefined) as SignalStatus | undefined })}>
            <option value="">any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
      </form>
      <p role="status">{cursor ? 'Older signals (not updating).' : 'Newest signals, updating every few seconds.'}</p>
      <Table caption="Signals">
        <thead>
          <tr>
            <th scope="col">Received</th>
            <th scope="col">Source</th>
            <th scope="col">Signal</th>
            <th scope="col">Status</th>
            <th scope="col">Timeline</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.map((s) => (
            <tr key={s.id}>
              <td>{when(s.receivedAt)}</td>
              <td>{sourceName(s.sourceId)}</td>
              <td>{[s.payload.action, s.payload.quantity, s.payload.ticker, s.payload.price && `@ ${s.payload.price}`].filter(Boolean).join(' ')}</td>
              <td>{s.status.replace('_', ' ')}</td>
              <td>
                <button type="button" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
                  {open === s.id ? 'Hide' : 'Show'} timeline of signal {s.seq}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      {page.data?.items.length === 0 && <p>No signal matches.</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="signals" />
      {open && <Timeline id={open} connectionLabel={connectionLabel} />}
    </section>
  );
}

/** One signal's way through Switchyard, step by step, with each reason in words. */
function Timeline({ id, connectionLabel }: { id: string; connectionLabel: (id: string) => string }) {
  const signal = useQuery({ queryKey: ['signal', id], queryFn: () => api<SignalDetail>('GET', `/v1/signals/${id}`), refetchInterval: POLL_MS });
  const s = signal.data;
  if (!s) return null;
  return (
    <section aria-labelledby="timeline-heading" data-testid="timeline">
      <h3 id="timeline-heading">Signal {s.seq}: timeline</h3>
      <ol>
        <li>
          {when(s.receivedAt)}: received and stored (a first delivery: a repeated one is answered as a duplicate and makes no order).
          {s.ignoredFields.length > 0 && ` Fields not read: ${s.ignoredFields.join(', ')}.`}
        </li>
        {s.enqueuedAt && <li>{when(s.enqueuedAt)}: queued for routing.</li>}
        {s.routingStartedAt && <li>{when(s.routingStartedAt)}: routing started: one order is planned for each enabled route of the source.</li>}
        {s.orders.map((o) => (
          <li key={o.id}>
            {when(o.timings.routedAt)}: planned {o.side ?? o.intent} {o.quantity ?? ''} {o.symbol} for {connectionLabel(o.connectionId)}. {orderInWords(o)}
          </li>
        ))}
        {s.completedAt && (
          <li>
            {when(s.completedAt)}: {signalInWords(s)}
          </li>
        )}
      </ol>
    </section>
  );
}

function signalInWords(s: SignalView & { orders: OrderView[] }): string {
  const outcome: Record<string, string> = {
    routed: 'routing finished: every order was placed or settled.',
    partially_routed: 'routing finished with some orders not placed.',
    blocked: 'blocked: no order was placed.',
    failed: 'routing failed.',
  };
  return `${outcome[s.status] ?? s.status}${s.error ? ` Reason: ${s.error}.` : ''}${s.orders.length === 0 ? ' No enabled route took it.' : ''}`;
}

function orderInWords(o: OrderView): string {
  const reason = o.reason ? ` Reason: ${o.reason}.` : '';
  const sent = o.timings.sentAt ? `Sent to ${o.broker} at ${when(o.timings.sentAt)}` : `Not sent to ${o.broker}`;
  switch (o.status) {
    case 'blocked':
      return `The risk gate blocked it.${reason}`;
    case 'skipped':
      return `Skipped (nothing to do).${reason}`;
    case 'filled':
      return `Risk checks passed. ${sent}; the broker filled ${o.filledQuantity} at ${o.averagePrice}.`;
    case 'partially_filled':
      return `Risk checks passed. ${sent}; partly filled so far: ${o.filledQuantity} at ${o.averagePrice}.`;
    case 'rejected':
      return `Risk checks passed. ${sent}; the broker rejected it.${reason}`;
    case 'failed':
      return `${sent}; it failed after ${o.attempts} attempt(s).${reason}`;
    case 'pending':
      return 'Waiting for the risk gate and the broker.';
    default:
      return `Risk checks passed. ${sent}; the broker answered: ${o.status.replace('_', ' ')}.${reason}`;
  }
}
