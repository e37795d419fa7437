import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Answer, api, Item, Page } from './api/client';
import type { paths } from './api/schema';
import type { Session } from './App';
import { abilities, CopyButton, Field, FormProblem, Table, when } from './ui';

type CreateMember = paths['/v1/members']['post']['requestBody']['content']['application/json'];
type CreateToken = paths['/v1/tokens']['post']['requestBody']['content']['application/json'];
type Role = CreateMember['role'];
type MemberView = Item<'/v1/members'>;
type TokenView = Item<'/v1/tokens'>;
type IssuedToken = Answer<'/v1/tokens', 'post'>;

// Lowest first: a member grants at most her own role (the api refuses more).
const ROLES: Role[] = ['viewer', 'trader', 'admin', 'owner'];
const grantable = (own: Role) => ROLES.slice(0, ROLES.indexOf(own) + 1);

/** Members (add with a role, change it, remove) and the workspace's API tokens (create, shown once; revoke). */
export function Members({ session }: { session: Session }) {
  const can = abilities(session.role);
  const queries = useQueryClient();
  const members = useQuery({ queryKey: ['members'], queryFn: () => api<Page<MemberView>>('GET', '/v1/members?limit=500') });
  const refresh = () => void queries.invalidateQueries({ queryKey: ['members'] });
  const add = useMutation({ mutationFn: (body: CreateMember) => api<MemberView>('POST', '/v1/members', body), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (id: string) => api('DELETE', `/v1/members/${id}`), onSuccess: refresh });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) => api<MemberView>('PATCH', `/v1/members/${id}`, { role }),
    onSuccess: refresh,
  });
  return (
    <section aria-labelledby="members-heading">
      <h2 id="members-heading">Members</h2>
      {can.admin && (
        <form
          aria-label="Add a member"
          onSubmit={(event) => {
            event.preventDefault();
            const form = event.currentTarget;
            const data = new FormData(form);
            const password = String(data.get('password') ?? '');
            (form.elements.namedItem('password') as HTMLInputElement).value = '';
            add.mutate({ email: String(data.get('email')), role: String(data.get('role')) as Role, ...(password && { password }) });
          }}
        >
          <Field label="Email" name="email" type="email" required autoComplete="off" error={add.error} />
          <label>
            Role
            <select name="role" defaultValue="viewer">
              {grantable(session.role).map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <Field label="First password (tell it to them; they sign in with it)" name="password" type="password" autoComplete="new-password" error={add.error} />
          <button type="submit" disabled={add.isPending}>
            Add member
          </button>
          {add.isSuccess && (
            <p role="status">
              Added {add.data.email} as {add.data.role}.
            </p>
          )}
          <FormProblem error={add.error} fields={['email', 'role', 'password']} />
        </form>
      )}
      <Table caption="Members of this workspace">
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Since</th>
            {can.admin && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {members.data?.items.map((m) => (
            <tr key={m.id}>
              <td>{m.email}</td>
              <td>
                {can.admin && m.id !== session.memberId && ROLES.indexOf(m.role) <= ROLES.indexOf(session.role) ? (
                  <select
                    aria-label={`Role of ${m.email}`}
                    value={m.role}
                    disabled={changeRole.isPending}
                    onChange={(event) => changeRole.mutate({ id: m.id, role: event.target.value as Role })}
                  >
                    {grantable(session.role).map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td>{when(m.createdAt)}</td>
              {can.admin && (
                <td>
                  {m.id !== session.memberId && (
                    <button
                      type="button"
                      disabled={remove.isPending}
                      onClick={() => window.confirm(`Remove ${m.email}? Their sessions and tokens stop working.`) && remove.mutate(m.id)}
                    >
                      Remove {m.email}
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </Table>
      {remove.isError && <p role="alert">{remove.error.message}</p>}
      {changeRole.isError && <p role="alert">{changeRole.error.message}</p>}
      {can.admin && <Tokens own={session.role} />}
    </section>
  );
}

function Tokens({ own }: { own: Role }) {
  const queries = useQueryClient();
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => api<Page<TokenView>>('GET', '/v1/tokens?limit=500') });
  const refresh = () => void queries.invalidateQueries({ queryKey: ['tokens'] });
  const create = useMutation({
    mutationFn: (body: CreateToken) => api<IssuedToken>('POST', '/v1/tokens', body),
    onSuccess: (t) => {
      setIssued(t);
      refresh();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => api<TokenView>('DELETE', `/v1/tokens/${id}`), onSuccess: refresh });
  return (
    <section aria-labelledby="tokens-heading">
      <h3 id="tokens-heading">API tokens</h3>
      {issued && (
        <div role="status" aria-label="New token">
          <p>
            <strong>Copy the token now: it is shown only once.</strong>
          </p>
          <p>
            <code data-testid="new-token">{issued.token}</code> <CopyButton text={issued.token} label="Copy token" />
          </p>
          <button type="button" onClick={() => setIssued(null)}>
            Done
          </button>
        </div>
      )}
      <form
        aria-label="Create an API token"
        onSubmit={(event) => {
          event.preventDefault();
          const data = new FormData(event.currentTarget);
          const days = String(data.get('expiresInDays') ?? '').trim();
          create.mutate({ name: String(data.get('name')), role: String(data.get('role')) as Role, ...(days && { expiresInDays: Number(days) }) });
        }}
      >
        <Field label="Token name" name="name" required maxLength={200} error={create.error} />
        <label>
          Token role
          <select name="role" defaultValue="trader">
            {grantable(own).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <Field label="Expires in days (empty: the workspace default)" name="expiresInDays" inputMode="numeric" error={create.error} />
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
        <FormProblem error={create.error} fields={['name', 'role', 'expiresInDays']} />
      </form>
      <Table caption="API tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Token</th>
            <th scope="col">Role</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">State</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {tokens.data?.items.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                <code>{t.hint}</code>
              </td>
              <td>{t.role}</td>
              <td>{t.expiresAt ? when(t.expiresAt) : 'never'}</td>
              <td>{when(t.lastUsedAt)}</td>
              <td>{t.revokedAt ? `revoked ${when(t.revokedAt)}` : 'active'}</td>
              <td>
                {!t.revokedAt && (
                  <button
                    type="button"
                    disabled={revoke.isPending}
                    onClick={() => window.confirm(`Revoke the token ${t.name}? Machines using it are refused at once.`) && revoke.mutate(t.id)}
                  >
                    Revoke token {t.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      {revoke.isError && <p role="alert">{revoke.error.message}</p>}
    </section>
  );
}
