import { ReactNode, useEffect, useRef } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { Activity } from './Activity';
import type { Session } from './App';
import { Checklist } from './Checklist';
import { Connections } from './Connections';
import { Risk } from './Risk';
import { Routes } from './Routes';
import { SignOut } from './SignOut';
import { Sources } from './Sources';
import { abilities } from './ui';

const SCREENS: Array<{ path: string; label: string }> = [
  { path: '/', label: 'Start' },
  { path: '/connections', label: 'Connections' },
  { path: '/sources', label: 'Sources' },
  { path: '/routes', label: 'Routes' },
  { path: '/activity', label: 'Activity' },
  { path: '/risk', label: 'Risk' },
];

/** Signed in: the navigation, who is signed in, and the screen the address names (client-side routes). */
export function Shell({ session, status }: { session: Session; status: ReactNode }) {
  const [location] = useLocation();
  const can = abilities(session.role);
  const content = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a navigation, focus moves to the new screen so a keyboard or screen-reader user lands on it.
  useEffect(() => {
    if (first.current) first.current = false;
    else content.current?.focus();
  }, [location]);
  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <h1>Switchyard Console</h1>
        <nav aria-label="Console">
          <ul>
            {SCREENS.map((s) => (
              <li key={s.path}>
                <Link href={s.path} aria-current={location === s.path ? 'page' : undefined}>
                  {s.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">
            Signed in as {session.role} in workspace {session.workspaceId}
          </span>{' '}
          <SignOut />
        </div>
      </header>
      <main id="content" ref={content} tabIndex={-1}>
        {status}
        <Switch>
          <Route path="/connections">
            <Connections canWrite={can.admin} />
          </Route>
          <Route path="/sources">
            <Sources canWrite={can.admin} canTest={can.trade} />
          </Route>
          <Route path="/routes">
            <Routes canWrite={can.admin} />
          </Route>
          <Route path="/activity">
            <Activity />
          </Route>
          <Route path="/risk">
            <Risk role={session.role} />
          </Route>
          <Route path="/">
            <Checklist role={session.role} />
          </Route>
          <Route>
            <section aria-labelledby="missing-heading">
              <h2 id="missing-heading">Not found</h2>
              <p>
                There is no screen at {location}. <Link href="/">Go to the start</Link>.
              </p>
            </section>
          </Route>
        </Switch>
      </main>
    </>
  );
}
