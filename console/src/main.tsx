/**
 * The Aegis console: a single page over the public API. The page and its parameters live in
 * the URL; what the signed-in role may not do is hidden (the server stays the authority).
 */
import { render, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, whenSignedOut } from './api.js';
import { Link, match, navigate, useLocation, type Location } from './router.js';
import { loadAuth, type Auth } from './auth.js';
import { SignInError } from './aws/sign-in-error.js';
import { Empty, ErrorView, Loading, MeContext, type Me } from './ui.js';
import { LoginPage } from './pages/login.js';
import { AwsLoginPage } from './pages/aws-login.js';
import { ModelsPage } from './pages/models.js';
import { ModelPage } from './pages/model.js';
import { ArtifactPage } from './pages/artifact.js';
import { KeysPage } from './pages/keys.js';
import { PromotionPage } from './pages/promotion.js';
import { ArtifactPromotionsPage } from './pages/promotions-list.js';
import { ServingPage } from './pages/serving.js';
import { AuditPage } from './pages/audit.js';
import { DriftPage } from './pages/drift.js';
import { DriftReportPage } from './pages/drift-report.js';
import { ApiError } from './api.js';
import './styles.css';

interface RouteEntry {
  pattern: string;
  /** the API route the page reads first: a role that may not call it is told so, not sent to a 403 */
  needs: string;
  page: (params: Record<string, string>, loc: Location) => JSX.Element;
}

/** The console's pages, first match wins. */
const PAGES: RouteEntry[] = [
  { pattern: '/models', needs: 'modelsList', page: (_p, loc) => <ModelsPage loc={loc} /> },
  { pattern: '/models/:name', needs: 'versionsList', page: (p, loc) => <ModelPage key={p.name} name={p.name!} loc={loc} /> },
  { pattern: '/artifacts/:id', needs: 'artifactGet', page: (p) => <ArtifactPage key={p.id} id={p.id!} /> },
  { pattern: '/keys', needs: 'keysList', page: () => <KeysPage /> },
  { pattern: '/promotions/:id', needs: 'promotionGet', page: (p) => <PromotionPage id={p.id!} /> },
  { pattern: '/artifacts/:id/promotions', needs: 'promotionsByArtifact', page: (p) => <ArtifactPromotionsPage artifactId={p.id!} /> },
  { pattern: '/serving/:model/:env', needs: 'servingStatus', page: (p, loc) => <ServingPage model={p.model!} env={p.env!} loc={loc} /> },
  { pattern: '/drift', needs: 'driftReportsList', page: (_p, loc) => <DriftPage loc={loc} /> },
  { pattern: '/drift/reports/:id', needs: 'driftReportGet', page: (p) => <DriftReportPage key={p.id} id={p.id!} /> },
  { pattern: '/audit', needs: 'auditList', page: (_p, loc) => <AuditPage loc={loc} /> },
];

const NAV: { href: string; label: string; route: string }[] = [
  { href: '/models', label: 'Models', route: 'modelsList' },
  { href: '/keys', label: 'Keys', route: 'keysList' },
  { href: '/drift', label: 'Drift', route: 'driftReportsList' },
  { href: '/audit', label: 'Audit', route: 'auditList' },
];

type Signed = { state: 'checking' } | { state: 'out'; reason?: string } | { state: 'in'; me: Me } | { state: 'error'; error: ApiError };

/** Where a sign-in started from, to come back to (not the sign-in page itself). */
const here = (loc: Location) => (loc.path === '/login' ? '/' : `${loc.path}${loc.query.size ? `?${loc.query.toString()}` : ''}`);

function App(): JSX.Element {
  const loc = useLocation();
  const [signed, setSigned] = useState<Signed>({ state: 'checking' });
  const [auth, setAuth] = useState<Auth | undefined>(undefined);
  const check = async () => {
    try {
      const a = await loadAuth();
      setAuth(a);
      if ((await a.check()) === 'out') return setSigned({ state: 'out' });
      setSigned({ state: 'in', me: await api<Me>('/v1/whoami') });
    } catch (e) {
      // a sign-in that cannot go on is told on the sign-in page; a network failure can be retried
      if (e instanceof SignInError && e.code !== 'NETWORK') return setSigned({ state: 'out', reason: e.message });
      setSigned({
        state: 'error',
        error:
          e instanceof ApiError
            ? e
            : new ApiError(0, e instanceof SignInError ? 'NETWORK' : 'CLIENT', e instanceof Error ? e.message : String(e)),
      });
    }
  };
  useEffect(() => {
    whenSignedOut((why) => {
      void loadAuth().then((a) => {
        a.forget();
        setSigned(a.mode === 'aws' ? { state: 'out', reason: `Your session ended (${why}). Sign in again.` } : { state: 'out' });
      });
    });
    void check();
  }, []);
  if (signed.state === 'checking') return <Loading what="the session" />;
  if (signed.state === 'error') return <ErrorView error={signed.error} what="the session" retry={() => void check()} />;
  if (auth?.mode === 'aws' && signed.state === 'out') return <AwsLoginPage reason={signed.reason} signIn={() => auth.signIn(here(loc))} />;
  if (signed.state === 'out' || loc.path === '/login') {
    if (signed.state === 'in') navigate('/', true);
    return (
      <LoginPage
        error={loc.query.get('error')}
        onSignedIn={() => {
          navigate('/', true);
          void check();
        }}
      />
    );
  }
  const signOut = async () => {
    await auth?.signOut();
    if (auth?.mode !== 'aws') setSigned({ state: 'out' });
  };
  return (
    <MeContext.Provider value={signed.me}>
      <Shell loc={loc} me={signed.me} signOut={signOut} />
    </MeContext.Provider>
  );
}

function Shell(props: { loc: Location; me: Me; signOut: () => Promise<void> }): JSX.Element {
  const { loc, me } = props;
  const sections = NAV.filter((n) => me.routes.includes(n.route));
  if (loc.path === '/' && sections[0]) navigate(sections[0].href, true);
  const hit = PAGES.map((r) => ({ r, params: match(r.pattern, loc.path) })).find((x) => x.params);
  return (
    <>
      <header class="top">
        <a class="skip" href="#main">
          Skip to content
        </a>
        <span class="brand">Aegis</span>
        <nav aria-label="sections">
          {sections.map((n) => (
            <Link key={n.href} href={n.href} aria-current={loc.path.startsWith(n.href) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <span class="who" title={`scope: ${me.scope === 'global' ? 'global' : JSON.stringify(me.scope)}`}>
          {me.principal} · {me.role}
        </span>
        <button type="button" onClick={() => void props.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {loc.path === '/' && !sections[0] ? (
          <Empty>The role {me.role} reads nothing the console shows (it calls models: predict and feedback).</Empty>
        ) : !hit ? (
          <ErrorView error={new ApiError(404, 'NOT_FOUND', `no page ${loc.path}`)} what="this page" />
        ) : me.routes.includes(hit.r.needs) ? (
          hit.r.page(hit.params!, loc)
        ) : (
          <Empty>The role {me.role} may not open this page.</Empty>
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
