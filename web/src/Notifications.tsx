import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Answer, api } from './api/client';
import type { paths } from './api/schema';
import { FormProblem } from './ui';

type Preferences = Answer<'/v1/members/me/notifications', 'get'>;
type Kind = Preferences['kinds'][number];
type SetPreferences = paths['/v1/members/me/notifications']['put']['requestBody']['content']['application/json'];

// In the api's canonical order; what each kind of mail is about, in words.
const KINDS: Record<Kind, string> = {
  fills: 'Fills: an order of mine was filled',
  rejections: 'Rejections: the broker refused an order',
  blocks: 'Blocks: a risk rule or a kill switch stopped an order',
  limit_breaches: 'Limit breaches: a connection passed its daily loss limit or drawdown',
  approvals_waiting: 'Approvals waiting: an order needs a decision',
};

/** The signed-in member's own mail choices; every role, a viewer too, sets her own. */
export function Notifications() {
  const queries = useQueryClient();
  const current = useQuery({ queryKey: ['notifications'], queryFn: () => api<Preferences>('GET', '/v1/members/me/notifications') });
  const save = useMutation({
    mutationFn: (body: SetPreferences) => api<Preferences>('PUT', '/v1/members/me/notifications', body),
    onSuccess: (p) => queries.setQueryData(['notifications'], p),
  });
  const p = current.data;
  return (
    <section aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      {current.isError && <p role="alert">Your notification choices could not be loaded: {current.error.message}</p>}
      {p && (
        <form
          aria-label="My notifications"
          onSubmit={(event) => {
            event.preventDefault();
            const data = new FormData(event.currentTarget);
            save.mutate({ kinds: (Object.keys(KINDS) as Kind[]).filter((k) => data.has(k)) });
          }}
        >
          <fieldset>
            <legend>
              Mail me at {p.email} about{p.chosen ? '' : ' (the defaults until you save)'}
            </legend>
            {(Object.entries(KINDS) as Array<[Kind, string]>).map(([kind, words]) => (
              <label key={`${kind}-${p.kinds.join()}`}>
                <input type="checkbox" name={kind} defaultChecked={p.kinds.includes(kind)} /> {words}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={save.isPending}>
            Save my notifications
          </button>
          {save.isSuccess && <p role="status">Saved: {save.data.kinds.length ? save.data.kinds.map((k) => KINDS[k].split(':')[0]).join(', ') : 'no mail'}.</p>}
          <FormProblem error={save.error} fields={[]} />
        </form>
      )}
    </section>
  );
}
