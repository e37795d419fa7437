import { ReactNode, useRef } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { Activity } from './Activity';
import { Alerts } from './Alerts';
import { Approvals, ApprovalsLabel } from './Approvals';
import { Audit } from './Audit';
import type { Session } from './App';
import { Checklist } from './Checklist';
import { Connections } from './Connections';
import { Members } from './Members';
import { Notifications } from './Notifications';
import { Pnl } from './Pnl';
import { Positions } from './Positions';
import { Risk } from './Risk';
import { Routes } from './Routes';
import { SignOut } from './SignOut';
import { Sources } from './Sources';
import { abilities, useFocusOnNavigation } from './ui';
import { Webhooks } from './Webhooks';

// `admin`: screens whose every read the api keeps to admins and owners; other roles do not see them in the nav.
const SCREENS: Array<{ path: string; label: ReactNode; admin?: boolean }> = [
  { path: '/', label: 'Start' },
  { path: '/connections', label: 'Connections' },
  { path: '/sources', label: 'Sources' },
  { path: '/routes', label: 'Routes' },
  { path: '/activity', label: 'Activity' },
  { path: '/approvals', label: <ApprovalsLabel /> },
  { path: '/positions', label: 'Positions' },
  { path: '/pnl', label: 'P&L' },
  { path: '/risk', label: 'Risk' },
  { path: '/webhooks', label: 'Webhooks' },
  { path: '/audit', label: 'Audit', admin: true },
  { path: '/alerts', label: 'Alerts', admin: true },
  { path: '/members', label: 'Members' },
  { path: '/notifications', label: 'Notifications' },
];

/** Signed in: the navigation, who is signed in, and the screen the address names (client-side routes). */
export function Shell({ session, status }: { session: Session; status: ReactNode }) {
  const [location] = useLocation();
  const can = abilities(session.role);
  const content = useRef<HTMLElement>(null);
  useFocusOnNavigation(location, content);
  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <h1>Switchyard Console</h1>
        <nav aria-label="Console">
          <ul>
            {SCREENS.filter((s) => can.admin || !s.admin).map((s) => (
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
          <Route path="/approvals">
            <Approvals canDecide={can.trade} />
          </Route>
          <Route path="/positions">
            <Positions canFlatten={can.trade} />
          </Route>
          <Route path="/pnl">
            <Pnl />
          </Route>
          <Route path="/webhooks">
            <Webhooks canWrite={can.admin} />
          </Route>
          <Route path="/risk">
            <Risk role={session.role} />
          </Route>
          <Route path="/audit">{can.admin ? <Audit /> : <AdminsOnly title="Audit" />}</Route>
          <Route path="/alerts">{can.admin ? <Alerts /> : <AdminsOnly title="Alerts" />}</Route>
          <Route path="/alerts/:id">{(params) => (can.admin ? <Alerts linked={params.id} /> : <AdminsOnly title="Alerts" />)}</Route>
          <Route path="/members">
            <Members session={session} />
          </Route>
          <Route path="/notifications">
            <Notifications />
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

function AdminsOnly({ title }: { title: string }) {
  return (
    <section aria-labelledby="admins-heading">
      <h2 id="admins-heading">{title}</h2>
      <p>Only admins and owners of this workspace can open this screen.</p>
    </section>
  );
}
