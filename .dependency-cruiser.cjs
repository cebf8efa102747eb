/**
 * The dependency rules of DESIGN.md, checked by `npm run lint` (part of `npm test`). There is
 * no allow-list: the code passes every rule, and a new violation fails the build.
 */
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
      name: 'core-is-pure',
      comment: 'lib/core is the kernel: it imports nothing of ours outside itself (no I/O, no services, no adapters).',
      severity: 'error',
      from: { path: '^lib/core/' },
      to: { path: '^(lib|lambdas|bin)/', pathNot: '^lib/core/' },
    },
    {
      name: 'adapters-import-ports-and-core',
      comment:
        'Adapters implement ports: they import only lib/ports.ts, lib/core, the database schema and mode-neutral adapter helpers (lib/adapters/*.ts).',
      severity: 'error',
      from: { path: '^lib/adapters/' },
      to: {
        path: '^(lib|lambdas|bin)/',
        pathNot: ['^lib/ports\\.ts$', '^lib/core/', '^lib/db/', '^lib/adapters/[^/]+\\.ts$', '^lib/adapters/(aws|local)/'],
      },
    },
    {
      name: 'adapters-stay-in-their-mode',
      comment: 'An AWS adapter never imports a local one (nor the reverse): a Lambda bundle must not carry local-only code.',
      severity: 'error',
      from: { path: '^lib/adapters/(aws|local)/' },
      to: { path: '^lib/adapters/(aws|local)/', pathNot: '^lib/adapters/$1/' },
    },
    {
      name: 'services-never-import-adapters',
      comment: 'Services see ports only; the composition roots choose the adapters.',
      severity: 'error',
      from: { path: '^lib/services/' },
      to: { path: '^(lib/adapters/|lib/composition|lib/local/|lib/http/|lambdas/|bin/)' },
    },
    {
      name: 'lambdas-only-from-the-route-loader',
      comment: "lambdas/ are entry points: only the local server's route loader (lib/local/start.ts) imports them.",
      severity: 'error',
      from: { path: '^(lib|bin)/', pathNot: '^lib/local/start\\.ts$' },
      to: { path: '^lambdas/' },
    },
    {
      name: 'client-speaks-the-wire',
      comment: "The client and CLI run on a user's machine and speak the HTTP API: they do not import services.",
      severity: 'error',
      from: { path: '^lib/client/' },
      to: { path: '^lib/services/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|cdk\\.out|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
