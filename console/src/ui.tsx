/**
 * What every page shares: loading a reply (with its loading, empty and error states), the
 * signed-in caller (what its role may do), pagination by cursor in the URL, small formatting.
 */
import { createContext, type ComponentChildren, type JSX } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';
import { hrefWith, Link, type Location } from './router.js';
import type { WhoamiReply } from '../../lib/platform/http/schemas.js';

export type Loaded<T> = { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; error: ApiError };

/** GETs `path` (null: nothing yet) and reloads when it changes; `every` ms polls (a live view). */
export function useApi<T>(path: string | null, every?: number): Loaded<T> & { reload: () => void } {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    // a poll keeps showing what it has; only a new path shows the loading state
    if (tick === 0) setLoaded({ state: 'loading' });
    api<T>(path).then(
      (data) => live && setLoaded({ state: 'ok', data }),
      (e: unknown) => live && setLoaded({ state: 'error', error: e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)) }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  useEffect(() => setTick(0), [path]);
  useEffect(() => {
    if (!every) return;
    const t = setInterval(reload, every);
    return () => clearInterval(t);
  }, [every, reload]);
  return { ...loaded, reload };
}

export function Loading(props: { what: string }): JSX.Element {
  return (
    <p class="state" role="status" aria-live="polite">
      Loading {props.what}…
    </p>
  );
}

export function Empty(props: { children: ComponentChildren }): JSX.Element {
  return <p class="state empty">{props.children}</p>;
}

export function ErrorView(props: { error: ApiError; what: string; retry?: () => void }): JSX.Element {
  const { error } = props;
  return (
    <div class="state error" role="alert">
      <p>
        Could not load {props.what}: <strong>{error.code}</strong> {error.message}
        {error.field ? ` (field ${error.field})` : ''}
      </p>
      {error.requestId ? <p class="muted">request {error.requestId}</p> : null}
      {props.retry ? (
        <button type="button" onClick={props.retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** Renders a reply in its three states; `empty` decides when the data holds nothing to show. */
export function Async<T>(props: {
  loaded: Loaded<T> & { reload?: () => void };
  what: string;
  empty?: (data: T) => ComponentChildren | false;
  children: (data: T) => ComponentChildren;
}): JSX.Element {
  const { loaded } = props;
  if (loaded.state === 'loading') return <Loading what={props.what} />;
  if (loaded.state === 'error') return <ErrorView error={loaded.error} what={props.what} retry={loaded.reload} />;
  const empty = props.empty?.(loaded.data);
  if (empty) return <Empty>{empty}</Empty>;
  return <>{props.children(loaded.data)}</>;
}

/** Cursor pagination: the cursor lives in the URL, so a page can be bookmarked and Back works. */
export function Pager(props: { loc: Location; nextCursor: string | null; param?: string }): JSX.Element {
  const param = props.param ?? 'cursor';
  const onFirst = !props.loc.query.get(param);
  return (
    <nav class="pager" aria-label="pagination">
      {onFirst ? null : <Link href={hrefWith(props.loc, { [param]: undefined })}>« First page</Link>}
      {props.nextCursor ? <Link href={hrefWith(props.loc, { [param]: props.nextCursor })}>Next page »</Link> : null}
    </nav>
  );
}

export type Me = WhoamiReply;
export const MeContext = createContext<Me | undefined>(undefined);

/** True when the signed-in role may call the route (the server still decides). */
export function useCan(): (routeId: string) => boolean {
  const me = useContext(MeContext);
  return (routeId) => Boolean(me?.routes.includes(routeId));
}

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
export const short = (id: string): string => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

export function Badge(props: { tone: 'ok' | 'bad' | 'warn' | 'info'; children: ComponentChildren }): JSX.Element {
  return <span class={`badge ${props.tone}`}>{props.children}</span>;
}

/** A page's frame: its heading (one h1 per page) and content. */
export function Page(props: { title: string; children: ComponentChildren }): JSX.Element {
  useEffect(() => {
    document.title = `${props.title} · Aegis`;
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">{props.title}</h1>
      {props.children}
    </section>
  );
}
