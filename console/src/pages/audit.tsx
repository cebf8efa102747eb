import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { AuditListReply, AuditVerifyReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { hrefWith, Link, navigate, type Location } from '../router.js';
import { Async, Badge, Page, Pager, time, useApi, useCan, type Loaded } from '../ui.js';

type AuditEvent = AuditListReply['items'][number];
type Verify = AuditVerifyReply;

const FILTERS = ['subject', 'type', 'since', 'until'] as const;
type Filter = (typeof FILTERS)[number];

/** An ISO time in the URL as a datetime-local input's value (local time, minutes), and back. */
const toLocalInput = (iso: string | null): string => {
  if (!iso || Number.isNaN(Date.parse(iso))) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (v: string): string | undefined => (v ? new Date(v).toISOString() : undefined);

function Filters(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const initial = (f: Filter) => (f === 'since' || f === 'until' ? toLocalInput(loc.query.get(f)) : (loc.query.get(f) ?? ''));
  const [values, setValues] = useState<Record<Filter, string>>(
    Object.fromEntries(FILTERS.map((f) => [f, initial(f)])) as Record<Filter, string>,
  );
  const set = (f: Filter) => (e: Event) => setValues({ ...values, [f]: (e.currentTarget as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    navigate(
      hrefWith(loc, {
        subject: values.subject.trim(),
        type: values.type.trim(),
        since: fromLocalInput(values.since),
        until: fromLocalInput(values.until),
        cursor: undefined,
      }),
    );
  };
  const any = FILTERS.some((f) => loc.query.get(f));
  return (
    <form class="filters" onSubmit={submit} aria-label="filter the events">
      <label>
        Subject <input name="subject" value={values.subject} onInput={set('subject')} placeholder="artifact:…" size={28} />
      </label>
      <label>
        Type <input name="type" value={values.type} onInput={set('type')} placeholder="artifact.registered" size={22} />
      </label>
      <label>
        From <input name="since" type="datetime-local" value={values.since} onInput={set('since')} />
      </label>
      <label>
        Before <input name="until" type="datetime-local" value={values.until} onInput={set('until')} />
      </label>
      <button type="submit">Filter</button>
      {any ? <Link href="/audit">Clear filters</Link> : null}
    </form>
  );
}

/** The chain's verification: the verified head, or the first broken seq and what is wrong with it. */
function Verification(props: { verify: Loaded<Verify> & { reload: () => void } }): JSX.Element {
  return (
    <section aria-labelledby="verify-title" class="verification">
      <h2 id="verify-title">Chain verification</h2>
      <Async loaded={props.verify} what="the chain verification">
        {(v) =>
          v.firstBreak ? (
            <div role="alert">
              <p>
                <Badge tone="bad">broken</Badge> The chain breaks at <strong>seq {v.firstBreak.seq}</strong>:{' '}
                <code>{v.firstBreak.problem}</code> — {v.firstBreak.detail}
              </p>
              <p class="muted">
                {v.checked} event(s) verified before it{v.fromSeq !== null ? ` (from seq ${v.fromSeq})` : ''}.{' '}
                <Link href={withQuery('/audit', { cursor: v.firstBreak.seq > 1 ? String(v.firstBreak.seq - 1) : undefined })}>
                  Show the events from seq {v.firstBreak.seq}
                </Link>
              </p>
            </div>
          ) : (
            <p>
              <Badge tone={v.ok ? 'ok' : 'warn'}>{v.ok ? 'verified' : 'not verified'}</Badge>{' '}
              {v.headSeq === null ? 'The chain is empty.' : `Verified through head seq ${v.headSeq} (${v.checked} event(s) checked).`}{' '}
              <span class="muted">
                Archive parity: {v.parity}
                {v.archivedThrough !== null ? `, archived through seq ${v.archivedThrough}` : ''}.
                {v.checkpoint ? ` Signed head checkpoint at seq ${v.checkpoint.seq} (${time(v.checkpoint.ts)}).` : ''}
              </span>
            </p>
          )
        }
      </Async>
    </section>
  );
}

function EventRow(props: { e: AuditEvent; loc: Location; broken: boolean }): JSX.Element {
  const { e, loc } = props;
  return (
    <tr class={props.broken ? 'broken' : undefined}>
      <td>
        {e.seq}
        {props.broken ? (
          <>
            {' '}
            <Badge tone="bad">broken</Badge>
          </>
        ) : null}
      </td>
      <td>{time(e.ts)}</td>
      <td>
        <Link href={hrefWith(loc, { type: e.type, cursor: undefined })}>{e.type}</Link>
      </td>
      <td>
        <Link href={hrefWith(loc, { subject: e.subject, cursor: undefined })}>{e.subject}</Link>
      </td>
      <td>{e.actor}</td>
      <td>
        <details>
          <summary>payload of seq {e.seq}</summary>
          <pre>{JSON.stringify(e.payload, null, 2)}</pre>
          <p class="muted">
            hash <code>{e.hash}</code>, signed by <code>{e.signerId}</code>
          </p>
        </details>
      </td>
    </tr>
  );
}

/** The audit chain in order, filtered by subject, type and time (all in the URL), with the chain's verification. */
export function AuditPage(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const can = useCan();
  const q = (k: Filter | 'cursor') => loc.query.get(k);
  const events = useApi<AuditListReply>(
    withQuery('/v1/audit', {
      subject: q('subject'),
      type: q('type'),
      since: q('since'),
      until: q('until'),
      cursor: q('cursor'),
      limit: 50,
    }),
  );
  const verify = useApi<Verify>(can('auditVerify') ? '/v1/audit/verify' : null);
  const brokenSeq = verify.state === 'ok' ? verify.data.firstBreak?.seq : undefined;
  return (
    <Page title="Audit">
      {can('auditVerify') ? <Verification verify={verify} /> : null}
      <h2>Events</h2>
      <Filters key={loc.query.toString()} loc={loc} />
      <Async loaded={events} what="the audit events" empty={(d) => d.items.length === 0 && 'No events match these filters.'}>
        {(d) => (
          <>
            <table>
              <caption class="sr-only">Audit events in chain order</caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">Type</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Payload</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((e) => (
                  <EventRow key={e.seq} e={e} loc={loc} broken={e.seq === brokenSeq} />
                ))}
              </tbody>
            </table>
            <Pager loc={loc} nextCursor={d.nextCursor} />
          </>
        )}
      </Async>
    </Page>
  );
}
