import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, Page } from './api/client';
import type { paths } from './api/schema';
import { PagerButtons, Table, usePager, when } from './ui';

type AlertStatus = NonNullable<NonNullable<paths['/v1/alerts']['get']['parameters']['query']>['status']>;
type Details = Record<string, string | number | boolean | null>;
type AlertView = {
  id: string;
  rule: string;
  severity: string;
  status: AlertStatus;
  summary: string;
  resource: { type: string; id: string };
  details: Details;
  occurrences: number;
  firstRaisedAt: string;
  lastRaisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  /** Security alerts are the platform operator's: a workspace reads them and cannot acknowledge them. */
  owner: 'workspace' | 'platform';
};

const STATUSES: AlertStatus[] = ['open', 'acknowledged', 'resolved'];
const POLL_MS = 5000;

/**
 * On-call: alerts with what was read, by whom, from where and when; acknowledge or resolve the workspace's own.
 * `linked`: the alert a page's link names (/alerts/<id>), marked wherever its status is.
 */
export function Alerts({ linked }: { linked?: string }) {
  const queries = useQueryClient();
  const [status, setStatus] = useState<AlertStatus | ''>(linked ? '' : 'open');
  const pager = usePager();
  const query = new URLSearchParams({ limit: '50', ...(status && { status }), ...(pager.cursor && { cursor: pager.cursor }) });
  const page = useQuery({ queryKey: ['alerts', query.toString()], queryFn: () => api<Page<AlertView>>('GET', `/v1/alerts?${query}`), refetchInterval: pager.cursor ? false : POLL_MS, placeholderData: keepPreviousData });
  const act = useMutation({
    mutationFn: ({ id, to }: { id: string; to: 'ack' | 'resolve' }) => api<AlertView>('POST', `/v1/alerts/${id}/${to}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['alerts'] }),
  });
  return (
    <section aria-labelledby="alerts-heading">
      <h2 id="alerts-heading">Alerts</h2>
      <label>
        Show
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as AlertStatus | '');
            pager.reset();
          }}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s} alerts
            </option>
          ))}
          <option value="">all alerts</option>
        </select>
      </label>
      {act.isError && <p role="alert">{act.error.message}</p>}
      <Table caption="Alerts, newest first">
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
        <tbody>
          {page.data?.items.map((a) => (
            <tr key={a.id} className={a.id === linked ? 'linked' : undefined} aria-current={a.id === linked ? 'true' : undefined}>
              <td>
                {a.severity}
                {a.id === linked && ' (the alert you were paged about)'}
              </td>
              <td>
                {a.summary}
                {detailsInWords(a.details)}
              </td>
              <td>{[a.details.actorType, a.details.actorId].filter((v) => v !== null && v !== undefined).join(' ') || '—'}</td>
              <td>{a.details.ip ?? '—'}</td>
              <td>
                {when(a.firstRaisedAt)}
                {a.occurrences > 1 && ` (${a.occurrences} times, last ${when(a.lastRaisedAt)})`}
              </td>
              <td>
                {a.status}
                {a.acknowledgedBy && ` by ${a.acknowledgedBy} at ${when(a.acknowledgedAt)}`}
                {a.resolvedBy && `; resolved by ${a.resolvedBy} at ${when(a.resolvedAt)}`}
              </td>
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
          ))}
        </tbody>
      </Table>
      {page.data?.items.length === 0 && <p>No {status} alert.</p>}
      {linked && page.data && !page.data.items.some((a) => a.id === linked) && <p>The alert you were paged about is not on this page: look at older alerts.</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="alerts" />
    </section>
  );
}

// Who, where and the request are columns of their own; the rest of the alert's details follow its summary.
const SHOWN_APART = new Set(['actorType', 'actorId', 'ip', 'auditAction']);

function detailsInWords(d: Details): string {
  const rest = Object.entries(d).filter(([k, v]) => !SHOWN_APART.has(k) && v !== null && v !== '');
  return rest.length ? ` (${rest.map(([k, v]) => `${k}: ${v}`).join('; ')})` : '';
}
