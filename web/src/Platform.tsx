import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { Answer, api, ApiProblem } from './api/client';
import { PlatformAlert, PlatformAlerts } from './PlatformAlerts';
import { PlatformKillSwitch } from './PlatformKillSwitch';
import { useFocusOnNavigation } from './ui';

type PlatformSession = Answer<'/v1/auth/platform-session', 'get'>;
const SESSION_KEY = ['platform-session'];

/**
 * The platform on-call's console under /platform: the platform token, typed once, is exchanged for a cookie
 * session; then alerts across workspaces (metadata only) and the platform kill switch.
 */
export function Platform() {
  const session = useQuery({
    queryKey: SESSION_KEY,
    // No operator session (none, or a member's instead) is an answer, not an error: the sign-in form shows.
    queryFn: () =>
      api<PlatformSession>('GET', '/v1/auth/platform-session').catch((err) =>
        err instanceof ApiProblem && (err.status === 401 || err.status === 403) ? null : Promise.reject(err),
      ),
  });
  if (session.isPending) return null;
  return session.data ? <PlatformShell /> : <PlatformSignIn />;
}

function PlatformSignIn() {
  const queries = useQueryClient();
  const signIn = useMutation({
    // Sent once in the Authorization header; the browser keeps only the httpOnly cookie the api answers with.
    mutationFn: (token: string) => api('POST', '/v1/auth/platform-session', undefined, { authorization: `Bearer ${token}` }),
    onSuccess: () => queries.invalidateQueries({ queryKey: SESSION_KEY }),
  });
  return (
    <main id="content">
      <header className="top">
        <h1>Switchyard Console · platform on-call</h1>
      </header>
      <section aria-labelledby="platform-signin-heading">
        <h2 id="platform-signin-heading">Platform sign-in</h2>
        <p>
          Sign in with the platform credential (PLATFORM_ADMIN_TOKEN). Workspace members sign in at <Link href="~/">the workspace console</Link>.
        </p>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const input = event.currentTarget.elements.namedItem('token') as HTMLInputElement;
            const token = input.value;
            input.value = '';
            signIn.mutate(token);
          }}
        >
          <label>
            Platform token <input name="token" type="password" autoComplete="off" required />
          </label>
          <button type="submit" disabled={signIn.isPending}>
            Sign in as the platform operator
          </button>
          {signIn.isError && (
            <p role="alert">{signIn.error instanceof ApiProblem && signIn.error.status === 401 ? 'That is not the platform token.' : signIn.error.message}</p>
          )}
        </form>
      </section>
    </main>
  );
}

function PlatformShell() {
  const [location] = useLocation();
  const content = useRef<HTMLElement>(null);
  useFocusOnNavigation(location, content);
  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <h1>Switchyard Console · platform on-call</h1>
        <nav aria-label="Platform">
          <ul>
            <li>
              <Link href="/" aria-current={location === '/' ? 'page' : undefined}>
                Alerts and kill switch
              </Link>
            </li>
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">Signed in as the platform operator</span> <PlatformSignOut />
        </div>
      </header>
      <main id="content" ref={content} tabIndex={-1}>
        <Switch>
          <Route path="/alerts/:id">{(params) => <PlatformAlert id={params.id} />}</Route>
          <Route path="/">
            <PlatformKillSwitch />
            <PlatformAlerts />
          </Route>
          <Route>
            <section aria-labelledby="missing-heading">
              <h2 id="missing-heading">Not found</h2>
              <p>
                There is no platform screen at {location}. <Link href="/">Go to the alerts</Link>.
              </p>
            </section>
          </Route>
        </Switch>
      </main>
    </>
  );
}

/** Revokes the operator's session on the server. */
function PlatformSignOut() {
  const queries = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => api('DELETE', '/v1/auth/platform-session'),
    onSuccess: () => queries.setQueryData(SESSION_KEY, null),
  });
  return (
    <button type="button" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      Sign out
    </button>
  );
}
