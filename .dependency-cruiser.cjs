/**
 * The dependency rules of DESIGN.md and ARCHITECTURE.md, checked by `npm run lint` (part of
 * `npm test`). There is no allow-list: the code passes every rule, and a new violation fails
 * the build.
 */
const LOCAL_ONLY_ADAPTERS =
  '^lib/platform/adapters/(sql/(pglite|pg)|object-store/fs(-versions)?|signing/file|workflows/asl|scheduler/in-process|metrics/prometheus)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles anywhere.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kernel-is-pure',
      comment: 'lib/kernel imports nothing of ours outside itself (no I/O, no services, no adapters).',
      severity: 'error',
      from: { path: '^lib/kernel/' },
      to: { path: '^(lib|lambdas|bin)/', pathNot: '^lib/kernel/' },
    },
    {
      name: 'ports-are-contracts',
      comment: 'A port names types only: it imports the kernel, other ports and the database schema.',
      severity: 'error',
      from: { path: '^lib/platform/ports/' },
      to: { path: '^(lib|lambdas|bin)/', pathNot: ['^lib/kernel/', '^lib/platform/ports/', '^lib/platform/sql/schema\\.ts$'] },
    },
    {
      name: 'adapters-implement-one-port',
      comment:
        "An adapter imports ports, the kernel, the SQL schema and helpers, the adapters of its own port (lib/platform/adapters/<port>/) and the helpers several adapters share (lib/platform/adapters/shared/: the signed Lambda invoke) — never another port's adapters, a module or the composition.",
      severity: 'error',
      from: { path: '^lib/platform/adapters/([^/]+)/' },
      to: {
        path: '^(lib|lambdas|bin)/',
        pathNot: [
          '^lib/kernel/',
          '^lib/platform/ports/',
          '^lib/platform/sql/',
          '^lib/platform/adapters/$1/',
          '^lib/platform/adapters/shared/',
        ],
      },
    },
    {
      name: 'lambda-bundles-carry-no-local-adapter',
      comment:
        'A Lambda entry point never reaches a local-only adapter (PGlite, pg, fs store, key files, the in-process ASL runner, timers, Prometheus).',
      severity: 'error',
      from: { path: '^lambdas/', pathNot: '^lambdas/index\\.ts$' },
      to: { path: LOCAL_ONLY_ADAPTERS, reachable: true },
    },
    {
      name: 'modules-see-ports-only',
      comment:
        'Modules see ports, the kernel and the audit log; the composition chooses the adapters. They never import HTTP, composition, recovery, clients or entry points.',
      severity: 'error',
      from: { path: '^lib/modules/' },
      to: { path: '^(lib/platform/(adapters|composition|http)/|lib/recovery/|lib/clients/|lib/infra/|lambdas/|bin/)' },
    },
    {
      name: 'a-store-belongs-to-its-module',
      comment: "Only a module's own files import its store: other modules call its service.",
      severity: 'error',
      from: { path: '^lib/modules/([^/]+)/' },
      to: { path: '^lib/modules/[^/]+/(store|store-[a-z]+)\\.ts$', pathNot: '^lib/modules/$1/' },
    },
    {
      name: 'stores-stay-inside-modules',
      comment: 'Nothing outside lib/modules imports a store.',
      severity: 'error',
      from: { pathNot: '^lib/modules/' },
      to: { path: '^lib/modules/[^/]+/(store|store-[a-z]+)\\.ts$' },
    },
    {
      name: 'lambdas-only-from-the-route-loader',
      comment: "lambdas/ are entry points: only the local server's route loader (lib/platform/composition/local-start.ts) imports them.",
      severity: 'error',
      from: { path: '^(lib|bin)/', pathNot: '^lib/platform/composition/local-start\\.ts$' },
      to: { path: '^lambdas/' },
    },
    {
      name: 'clients-speak-the-wire',
      comment:
        "The HTTP client and the trainer run on a user's machine and speak the HTTP API: they import the kernel and the wire schemas, not modules, adapters or the composition.",
      severity: 'error',
      from: { path: '^lib/clients/(http|training|publish)/' },
      to: { path: '^lib/(modules|recovery|platform/(adapters|composition|audit|ports))/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
