import { keepPreviousData, useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Answer, api, Item, Page } from './api/client';
import type { paths } from './api/schema';
import { Field, FormProblem, PagerButtons, Table, usePager, when } from './ui';

type AuditQuery = NonNullable<paths['/v1/audit']['get']['parameters']['query']>;
type Filter = Omit<AuditQuery, 'cursor' | 'limit'>;
type AuditEvent = Item<'/v1/audit'>;
type Verification = Answer<'/v1/audit/verify', 'get'>;

const ACTOR_TYPES: NonNullable<AuditQuery['actorType']>[] = ['user', 'token', 'system', 'worker', 'platform'];
const FIELDS = ['action', 'actorType', 'actorId', 'resourceType', 'resourceId', 'since', 'until'];
const PAGE_SIZE = 50;
// The export walks the filtered timeline in pages of the api's maximum, up to this many events.
const EXPORT_PAGE = 500;
const EXPORT_MAX = 20_000;
const CSV_COLUMNS = ['seq', 'occurredAt', 'actorType', 'actorId', 'ip', 'action', 'resourceType', 'resourceId', 'reason', 'requestId', 'metadata', 'hash'];

function auditPath(filter: Filter, limit: number, cursor?: string): string {
  const q = new URLSearchParams(
    Object.entries({ ...filter, limit: String(limit), ...(cursor && { cursor }) }).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
    ),
  );
  return `/v1/audit?${q}`;
}

/** The workspace's hash-chained audit trail: filters, pages, a CSV export and "verify chain". */
export function Audit() {
  const [filter, setFilter] = useState<Filter>({});
  const pager = usePager();
  const page = useQuery({
    queryKey: ['audit', filter, pager.cursor],
    queryFn: () => api<Page<AuditEvent>>('GET', auditPath(filter, PAGE_SIZE, pager.cursor)),
    placeholderData: keepPreviousData,
  });
  const verify = useMutation({ mutationFn: () => api<Verification>('GET', '/v1/audit/verify') });
  const exporting = useMutation({ mutationFn: () => exportCsv(filter) });
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit</h2>
      <p>
        <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify chain
        </button>{' '}
        <button type="button" onClick={() => exporting.mutate()} disabled={exporting.isPending}>
          Export CSV
        </button>
      </p>
      {verify.data && (
        <p role="status" data-testid="verify-result">
          {verify.data.ok
            ? `Chain intact: ${verify.data.events} events, head at event ${verify.data.head?.seq ?? 0}.`
            : `Chain broken at event ${verify.data.firstBrokenSeq} (${verify.data.reason.replace(/_/g, ' ')}): ${verify.data.detail}`}
        </p>
      )}
      {verify.isError && <p role="alert">{verify.error.message}</p>}
      {exporting.data && (
        <p role="status">
          <a href={exporting.data.url} download={exporting.data.name}>
            Download {exporting.data.name} ({exporting.data.count} events)
          </a>
        </p>
      )}
      {exporting.isError && <p role="alert">{exporting.error.message}</p>}
      <form
        aria-label="Filter audit events"
        onSubmit={(event) => {
          event.preventDefault();
          const data = new FormData(event.currentTarget);
          const text = (name: string) => String(data.get(name) ?? '').trim() || undefined;
          const time = (name: string) => (text(name) ? new Date(text(name)!).toISOString() : undefined);
          setFilter({
            action: text('action') as Filter['action'],
            actorType: text('actorType') as Filter['actorType'],
            actorId: text('actorId'),
            resourceType: text('resourceType'),
            resourceId: text('resourceId'),
            since: time('since'),
            until: time('until'),
          });
          pager.reset();
        }}
      >
        <Field label="Action" name="action" placeholder="e.g. credential.revoke" error={page.error} />
        <label>
          Actor type
          <select name="actorType" defaultValue="">
            <option value="">any actor</option>
            {ACTOR_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <Field label="Actor id" name="actorId" error={page.error} />
        <Field label="Resource type" name="resourceType" placeholder="e.g. connection" error={page.error} />
        <Field label="Resource id" name="resourceId" error={page.error} />
        <Field label="From" name="since" type="datetime-local" error={page.error} />
        <Field label="Before" name="until" type="datetime-local" error={page.error} />
        <button type="submit">Apply filters</button>
      </form>
      <FormProblem error={page.error} fields={FIELDS} />
      <Table caption="Audit events, newest first">
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">From</th>
            <th scope="col">Action</th>
            <th scope="col">Resource</th>
            <th scope="col">Reason and details</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{when(e.occurredAt)}</td>
              <td>{[e.actor.type, e.actor.id].filter(Boolean).join(' ')}</td>
              <td>{e.ip ?? '—'}</td>
              <td>{e.action}</td>
              <td>{[e.resource.type, e.resource.id].filter(Boolean).join(' ')}</td>
              <td>{[e.reason, ...Object.entries(e.metadata).map(([k, v]) => `${k}: ${v}`)].filter(Boolean).join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </Table>
      {page.data?.items.length === 0 && <p>No event matches.</p>}
      <PagerButtons pager={pager} nextCursor={page.data?.nextCursor} noun="events" />
    </section>
  );
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  // Quoted always; a leading = + - @ is prefixed so a spreadsheet never runs it as a formula.
  return `"${(/^[=+\-@]/.test(text) ? `'${text}` : text).replace(/"/g, '""')}"`;
}

async function exportCsv(filter: Filter): Promise<{ url: string; name: string; count: number }> {
  const rows: AuditEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<Page<AuditEvent>>('GET', auditPath(filter, EXPORT_PAGE, cursor));
    rows.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && rows.length < EXPORT_MAX);
  const lines = rows.map((e) =>
    [e.seq, e.occurredAt, e.actor.type, e.actor.id, e.ip, e.action, e.resource.type, e.resource.id, e.reason, e.requestId, e.metadata, e.hash]
      .map(csvCell)
      .join(','),
  );
  const csv = [CSV_COLUMNS.join(','), ...lines].join('\r\n');
  return {
    url: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })),
    name: `audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv`,
    count: rows.length,
  };
}
