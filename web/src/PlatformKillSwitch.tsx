import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Answer, api } from './api/client';
import type { paths } from './api/schema';
import { Field, FormProblem, when } from './ui';

type PlatformSwitch = Answer<'/v1/platform/kill-switch', 'get'>;
type SetSwitch = paths['/v1/platform/kill-switch']['put']['requestBody']['content']['application/json'];
const KEY = ['platform-kill-switch'];

/** The platform kill switch: stops every workspace's routing; engaged and released with a reason (audited). */
export function PlatformKillSwitch() {
  const queries = useQueryClient();
  const current = useQuery({ queryKey: KEY, queryFn: () => api<PlatformSwitch>('GET', '/v1/platform/kill-switch') });
  const change = useMutation({
    mutationFn: (body: SetSwitch) => api<PlatformSwitch>('PUT', '/v1/platform/kill-switch', body),
    onSuccess: (s) => queries.setQueryData(KEY, s),
  });
  const s = current.data;
  if (!s) return current.isError ? <p role="alert">{current.error.message}</p> : null;
  return (
    <section aria-labelledby="platform-switch-heading">
      <h2 id="platform-switch-heading">Platform kill switch</h2>
      <p data-testid="platform-kill-state" className={s.engaged ? 'engaged' : undefined}>
        {s.engaged ? `Engaged since ${when(s.changedAt)}: no workspace routes orders (${s.reason}).` : 'Off: workspaces route orders.'}
      </p>
      <form
        aria-label="Platform kill switch"
        onSubmit={(event) => {
          event.preventDefault();
          const form = event.currentTarget;
          change.mutate({ engaged: !s.engaged, reason: String(new FormData(form).get('reason')) });
          form.reset();
        }}
      >
        <Field label={s.engaged ? 'Why release it' : 'Why engage it'} name="reason" required maxLength={500} autoComplete="off" error={change.error} />
        <button type="submit" className="kill" disabled={change.isPending}>
          {s.engaged ? 'Release the platform kill switch' : 'Engage the platform kill switch'}
        </button>
        <FormProblem error={change.error} fields={['reason']} />
      </form>
    </section>
  );
}
