import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ReactNode, useState } from 'react';
import { api, ApiProblem, Item, Page } from './api/client';
import type { paths } from './api/schema';
import { PagerButtons, Table, usePager, when } from './ui';

export type AlertStatus = NonNullable<NonNullable<paths['/v1/alerts']['get']['parameters']['query']>['status']>;
type AlertView = Item<'/v1/alerts'>;
type Act = { mutate(to: { id: string; to: 'ack' | 'resolve' }): void; isPending: boolean };

const ALERT_STATUSES: AlertStatus[] = ['open', 'acknowledged', 'resolved'];
export const ALERT_POLL_MS = 5000;

/**
 * On-call: alerts with what was read, by whom, from where and when; acknowledge or resolve the workspace's own.
 * `linked`: the alert a page's link names (/alerts/<id>), fetched by its id and shown above the list.
 */
export function Alerts({ linked }: { linked?: string }) {
  const queries = useQueryClient();
  const [status, setStatus] = useState<AlertStatus | ''>('open');
  const pager = usePager();
  const query = new URLSearchParams({ limit: '50', ...(status && { status }), ...(pager.cursor && { cursor: pager.cursor }) });
  const page = useQuery({
    queryKey: ['alerts', query.toString()],
    queryFn: () => api<Page<AlertView>>('GET', `/v1/alerts?${query}`),
    refetchInterval: pager.cursor ? false : ALERT_POLL_MS,
    placeholderData: keepPreviousData,
  });
  const act = useMutation({
    mutationFn: ({ id, to }: { id: string; to: 'ack' | 'resolve' }) => api<AlertView>('POST', `/v1/alerts/${id}/${to}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['alerts'] }),
  });
  return (
    <section aria-labelledby="alerts-heading">
      <h2 id="alerts-heading">Alerts</h2>
      {act.isError && <p role="alert">{act.error.message}</p>}
      {linked && <LinkedAlert id={linked} act={act} />}
      <AlertStatusFilter
        status={status}
        onChange={(s) => {
          setStatus(s);
          pager.reset();
        }}
      />
      <AlertTable caption="Alerts, newest first">
        {page.data?.items.map((a) => (
          <AlertRow key={a.id} alert={a} act={act} />
        ))}
      </AlertTable>
      {page.data?.items.length === 0 && <p>No {status} alert.</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="alerts" />
    </section>
  );
}

/** The alert the pager's link names, whatever its status and however old (`GET /v1/alerts/:id`). */
function LinkedAlert({ id, act }: { id: string; act: Act }) {
  const alert = useQuery({ queryKey: ['alerts', 'one', id], queryFn: () => api<AlertView>('GET', `/v1/alerts/${id}`), refetchInterval: ALERT_POLL_MS });
  if (alert.isPending) return null;
  if (alert.isError) {
    return (
      <p role="alert" data-testid="linked-missing">
        {alert.error instanceof ApiProblem && alert.error.status === 404
          ? `The alert you were paged about (${id}) is not found in this workspace.`
          : alert.error.message}
      </p>
    );
  }
  return (
    <AlertTable caption="The alert you were paged about">
      <AlertRow alert={alert.data} act={act} linked />
    </AlertTable>
  );
}

function AlertTable({ caption, children }: { caption: string; children: ReactNode }) {
  return (
    <Table caption={caption}>
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">What happened</th>
          <th scope="col">By whom</th>
          <th scope="col">From where</th>
          <th scope="col">When</th>
          <th scope="col">State</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </Table>
  );
}

function AlertRow({ alert: a, act, linked }: { alert: AlertView; act: Act; linked?: boolean }) {
  return (
    <tr className={linked ? 'linked' : undefined} aria-current={linked ? 'true' : undefined}>
      <td>
        {a.severity}
        {linked && ' (the alert you were paged about)'}
      </td>
      <td>
        {a.summary}
        {detailsInWords(a.details)}
      </td>
      <td>{[a.details.actorType, a.details.actorId].filter((v) => v !== null && v !== undefined).join(' ') || '—'}</td>
      <td>{a.details.ip ?? '—'}</td>
      <td>{raisedInWords(a)}</td>
      <td>{stateInWords(a)}</td>
      <td>
        {a.owner === 'platform' ? (
          'Handled by the platform operator.'
        ) : (
          <>
            {a.status === 'open' && (
              <button type="button" disabled={act.isPending} onClick={() => act.mutate({ id: a.id, to: 'ack' })}>
                Acknowledge {a.summary}
              </button>
            )}
            {a.status !== 'resolved' && (
              <button type="button" disabled={act.isPending} onClick={() => act.mutate({ id: a.id, to: 'resolve' })}>
                Resolve {a.summary}
              </button>
            )}
          </>
        )}
      </td>
    </tr>
  );
}

type AlertFacts = Pick<
  AlertView,
  'status' | 'acknowledgedBy' | 'acknowledgedAt' | 'resolvedBy' | 'resolvedAt' | 'firstRaisedAt' | 'lastRaisedAt' | 'occurrences'
>;

export function stateInWords(a: AlertFacts): string {
  return `${a.status}${a.acknowledgedBy ? ` by ${a.acknowledgedBy} at ${when(a.acknowledgedAt)}` : ''}${a.resolvedBy ? `; resolved by ${a.resolvedBy} at ${when(a.resolvedAt)}` : ''}`;
}

export function raisedInWords(a: AlertFacts): string {
  return `${when(a.firstRaisedAt)}${a.occurrences > 1 ? ` (${a.occurrences} times, last ${when(a.lastRaisedAt)})` : ''}`;
}

// Who, where and the request are columns of their own; the rest of the alert's details follow its summary.
const SHOWN_APART = new Set(['actorType', 'actorId', 'ip', 'auditAction']);

export function detailsInWords(d: AlertView['details']): string {
  const rest = Object.entries(d).filter(([k, v]) => !SHOWN_APART.has(k) && v !== null && v !== '');
  return rest.length ? ` (${rest.map(([k, v]) => `${k}: ${v}`).join('; ')})` : '';
}

/** The "Show … alerts" filter both alert screens lead with. */
export function AlertStatusFilter({ status, onChange }: { status: AlertStatus | ''; onChange: (status: AlertStatus | '') => void }) {
  return (
    <label>
      Show
      <select value={status} onChange={(e) => onChange(e.target.value as AlertStatus | '')}>
        {ALERT_STATUSES.map((s) => (
          <option key={s} value={s}>
            {s} alerts
          </option>
        ))}
        <option value="">all alerts</option>
      </select>
    </label>
  );
}
