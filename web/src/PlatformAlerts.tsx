import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, ApiProblem, Item, Page } from './api/client';
import { ALERT_POLL_MS, AlertStatus, AlertStatusFilter, detailsInWords, raisedInWords, stateInWords } from './Alerts';
import { PagerButtons, Table, usePager } from './ui';

type PlatformAlertView = Item<'/v1/platform/alerts'>;
type Owner = NonNullable<PlatformAlertView['owner']>;
type Act = ReturnType<typeof useAlertActions>;

function useAlertActions() {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ id, to }: { id: string; to: 'ack' | 'resolve' }) => api('POST', `/v1/platform/alerts/${id}/${to}`),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['platform-alerts'] }),
  });
}

/** Alerts of every workspace: the alert's own facts and its workspace's id, nothing else of the tenant. */
export function PlatformAlerts() {
  const [status, setStatus] = useState<AlertStatus | ''>('open');
  const [owner, setOwner] = useState<Owner | ''>('platform');
  const pager = usePager();
  const act = useAlertActions();
  const query = new URLSearchParams({ limit: '50', ...(status && { status }), ...(owner && { owner }), ...(pager.cursor && { cursor: pager.cursor }) });
  const page = useQuery({
    queryKey: ['platform-alerts', query.toString()],
    queryFn: () => api<Page<PlatformAlertView>>('GET', `/v1/platform/alerts?${query}`),
    refetchInterval: pager.cursor ? false : ALERT_POLL_MS,
    placeholderData: keepPreviousData,
  });
  return (
    <section aria-labelledby="platform-alerts-heading">
      <h2 id="platform-alerts-heading">Alerts across workspaces</h2>
      <AlertStatusFilter
        status={status}
        onChange={(s) => {
          setStatus(s);
          pager.reset();
        }}
      />
      <label>
        Handled by
        <select
          value={owner}
          onChange={(e) => {
            setOwner(e.target.value as Owner | '');
            pager.reset();
          }}
        >
          <option value="platform">the platform (security alerts)</option>
          <option value="workspace">the workspaces (operational alerts)</option>
          <option value="">anyone</option>
        </select>
      </label>
      {act.isError && <p role="alert">{act.error.message}</p>}
      <Table caption="Alerts of every workspace, newest first">
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Rule and what happened</th>
            <th scope="col">Workspace</th>
            <th scope="col">When</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.map((a) => (
            <tr key={a.id}>
              <td>{a.severity}</td>
              <td>
                <Link href={`/alerts/${a.id}`}>{a.rule}</Link>: {a.summary}
              </td>
              <td>
                <code>{a.workspaceId}</code>
              </td>
              <td>{raisedInWords(a)}</td>
              <td>{stateInWords(a)}</td>
              <td>
                <AlertActions alert={a} act={act} />
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      {page.data?.items.length === 0 && <p>No {status} alert.</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="alerts" />
    </section>
  );
}

/** /platform/alerts/<id>: the link the pager sends for a platform-owned alert. */
export function PlatformAlert({ id }: { id: string }) {
  const act = useAlertActions();
  const alert = useQuery({
    queryKey: ['platform-alerts', 'one', id],
    queryFn: () => api<PlatformAlertView>('GET', `/v1/platform/alerts/${id}`),
    refetchInterval: ALERT_POLL_MS,
  });
  return (
    <section aria-labelledby="platform-alert-heading">
      <h2 id="platform-alert-heading">Alert {id}</h2>
      <p>
        <Link href="/">All alerts</Link>
      </p>
      {alert.isError && (
        <p role="alert">{alert.error instanceof ApiProblem && alert.error.status === 404 ? 'There is no alert with this id.' : alert.error.message}</p>
      )}
      {alert.data && (
        <>
          <dl className="facts" data-testid="platform-alert">
            <dt>What happened</dt>
            <dd>
              {alert.data.summary}
              {detailsInWords(alert.data.details)}
            </dd>
            <dt>Rule</dt>
            <dd>{alert.data.rule}</dd>
            <dt>Severity</dt>
            <dd>{alert.data.severity}</dd>
            <dt>Handled by</dt>
            <dd>{alert.data.owner === 'platform' ? 'the platform on-call' : "the workspace's admins"}</dd>
            <dt>Workspace</dt>
            <dd>
              <code>{alert.data.workspaceId}</code>
            </dd>
            <dt>About</dt>
            <dd>
              {alert.data.resource.type} <code>{alert.data.resource.id || '—'}</code>
            </dd>
            <dt>By whom, from where</dt>
            <dd>
              {[alert.data.details.actorType, alert.data.details.actorId, alert.data.details.ip].filter((v) => v !== null && v !== undefined).join(' ') || '—'}
            </dd>
            <dt>When</dt>
            <dd>{raisedInWords(alert.data)}</dd>
            <dt>State</dt>
            <dd data-testid="platform-alert-state">{stateInWords(alert.data)}</dd>
          </dl>
          {act.isError && <p role="alert">{act.error.message}</p>}
          <AlertActions alert={alert.data} act={act} />
        </>
      )}
    </section>
  );
}

/** The platform acts on the security alerts it owns; a workspace's operational alerts stay its admins'. */
function AlertActions({ alert: a, act }: { alert: PlatformAlertView; act: Act }) {
  if (a.owner !== 'platform') return <>Handled by the workspace&apos;s admins.</>;
  return (
    <>
      {a.status === 'open' && (
        <button type="button" disabled={act.isPending} onClick={() => act.mutate({ id: a.id, to: 'ack' })}>
          Acknowledge {a.rule} in {a.workspaceId.slice(0, 8)}
        </button>
      )}
      {a.status !== 'resolved' && (
        <button type="button" disabled={act.isPending} onClick={() => act.mutate({ id: a.id, to: 'resolve' })}>
          Resolve {a.rule} in {a.workspaceId.slice(0, 8)}
        </button>
      )}
    </>
  );
}
