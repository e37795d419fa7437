import { InputHTMLAttributes, ReactNode, RefObject, useEffect, useId, useRef, useState } from 'react';
import { ApiProblem } from './api/client';
import type { Session } from './App';

/** What a role may do in the console; the api enforces the same rules on every request. */
export function abilities(role: Session['role']) {
  return { trade: role !== 'viewer', admin: role === 'admin' || role === 'owner', owner: role === 'owner' };
}

function fieldMessage(error: unknown, name: string): string | undefined {
  return error instanceof ApiProblem ? error.about(name) : undefined;
}

/** A labelled input with the api's complaint about it (problem+json `errors[]`) right beside it. */
export function Field({ label, name, error, ...input }: { label: ReactNode; name: string; error?: unknown } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const problem = fieldMessage(error, name);
  return (
    <label>
      {label} <input name={name} aria-invalid={problem ? true : undefined} aria-describedby={problem ? id : undefined} {...input} />
      {problem && (
        <span id={id} className="field-error">
          {problem}
        </span>
      )}
    </label>
  );
}

/** The form-level part of a failed request: what no field of this form shows beside itself. */
export function FormProblem({ error, fields }: { error: unknown; fields: string[] }) {
  if (!(error instanceof Error)) return null;
  const unclaimed = error instanceof ApiProblem ? error.errors.filter((e) => !fields.some((f) => e.path === f || e.path.startsWith(`${f}.`))) : [];
  const claimedAll = error instanceof ApiProblem && error.errors.length > 0 && unclaimed.length === 0;
  return (
    <p role="alert" className="problem">
      {claimedAll ? 'Check the fields marked above.' : error.message}
      {unclaimed.map((e) => ` ${e.path}: ${e.message}.`).join('')}
    </p>
  );
}

/** A table that scrolls sideways on a phone; the scrolling region is focusable so a keyboard can scroll it. */
export function Table({ caption, children }: { caption: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        {children}
      </table>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={() =>
        void navigator.clipboard?.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        )
      }
    >
      {copied ? `${label}: copied` : label}
    </button>
  );
}

/** Dates as a person reads them, in their own time zone. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** Keyset paging over a list endpoint: the cursors walked so far, so "newer" goes back without the api's help. */
export function usePager() {
  const [cursors, setCursors] = useState<string[]>([]);
  return {
    cursor: cursors.at(-1),
    atNewest: cursors.length === 0,
    older: (next: string) => setCursors([...cursors, next]),
    newer: () => setCursors(cursors.slice(0, -1)),
    reset: () => setCursors([]),
  };
}

export function PagerButtons({ pager, nextCursor, noun }: { pager: ReturnType<typeof usePager>; nextCursor: string | null | undefined; noun: string }) {
  return (
    <p>
      <button type="button" disabled={pager.atNewest} onClick={pager.newer}>
        Newer {noun}
      </button>{' '}
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && pager.older(nextCursor)}>
        Older {noun}
      </button>
    </p>
  );
}

/** After a navigation (not on the first render), focus moves to `target` so a keyboard or screen-reader user lands on the new screen. */
export function useFocusOnNavigation(location: string, target: RefObject<HTMLElement | null>) {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else target.current?.focus();
  }, [location, target]);
}
