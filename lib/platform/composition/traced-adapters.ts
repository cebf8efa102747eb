/**
 * Spans at the ports: the adapters a composition root gives, each wrapped by the generic
 * decorator (`tracePort`) before the services see them — no adapter knows it is traced.
 * Without a registered tracer provider (OTLP unset; Lambda, where X-Ray traces) the spans
 * are the OpenTelemetry API's no-op.
 */
import type { LoadedModel, ModelRuntime } from '../ports/model-runtime.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { KeyProvider, Signer } from '../ports/signer.js';
import type { Workflows } from '../ports/workflows.js';
import { traceDatabase } from '../tracing/traced-database.js';
import { bound, traceFunction, tracePort } from '../tracing/traced-port.js';
import { ATTR, idAttributes } from '../tracing/spans.js';
import { stepAttributes } from '../tracing/steps.js';
import type { AdapterFactories } from './services.js';

const STORE_METHODS = [
  'put',
  'get',
  'head',
  'delete',
  'retain',
  'claimUpload',
  'createUploadUrl',
  'createDownloadUrl',
  'startMultipartUpload',
  'createPartUploadUrls',
  'listUploadedParts',
  'completeMultipartUpload',
  'abortMultipartUpload',
];

const traceStore = (store: ObjectStore, name: string): ObjectStore =>
  tracePort(store, { name, methods: STORE_METHODS, attributes: (_m, [key]) => ({ 'aegis.object_key': String(key) }) });

const traceSigner = (signer: Signer): Signer =>
  tracePort(signer, { name: 'signer', methods: ['sign'], attributes: () => ({ 'aegis.key_id': signer.kid, 'aegis.key_alg': signer.alg }) });

const traceKeyProvider = (provider: KeyProvider): KeyProvider => {
  const traced = tracePort(provider, { name: 'signer', methods: ['create', 'describeKey'] });
  return new Proxy(traced, {
    get: (target, prop) =>
      prop === 'signer'
        ? (...a: Parameters<KeyProvider['signer']>) => traceSigner(provider.signer(...a))
        : target[prop as keyof KeyProvider],
  });
};

/** `workflows.start` with the machine, and the promotion (or drift run) it starts for. */
const traceWorkflows = (workflows: Workflows): Workflows =>
  tracePort(workflows, {
    name: 'workflows',
    methods: ['start'],
    attributes: (_m, [machine, name, input]) => ({
      'aegis.machine': String(machine),
      'aegis.execution': String(name),
      ...idAttributes(input),
    }),
  });

const traceModel = (model: LoadedModel): LoadedModel =>
  tracePort(model, { name: 'model-runtime', methods: ['predict'], attributes: () => ({ 'aegis.model_format': model.format }) });

const traceRuntime = (runtime: ModelRuntime): ModelRuntime =>
  new Proxy(runtime, {
    get: (target, prop) =>
      prop === 'load'
        ? traceFunction(
            'model-runtime.load',
            async (files: Parameters<ModelRuntime['load']>[0]) => traceModel(await target.load(files)),
            () => ({
              [ATTR.port]: 'model-runtime',
              'aegis.model_format': target.format,
            }),
          )
        : bound(target, prop),
  });

/** The composition root's adapters, each port traced (the one place that knows which methods are spans). */
export function tracedAdapters(a: AdapterFactories): AdapterFactories {
  return {
    ...a,
    database: async (config) => traceDatabase(await a.database(config)),
    async objectStore(config, publicUrl) {
      const opened = await a.objectStore(config, publicUrl);
      return { ...opened, store: traceStore(opened.store, 'object-store') };
    },
    archiveStore: async (config) => traceStore(await a.archiveStore(config), 'archive-store'),
    keyProvider: async (config) => traceKeyProvider(await a.keyProvider(config)),
    workflows: async (config, opts, rollout) =>
      traceWorkflows(
        await a.workflows(
          config,
          opts,
          tracePort(rollout, {
            name: 'workflow',
            methods: ['step'],
            attributes: (_m, [input]) => stepAttributes(input as object),
          }),
        ),
      ),
    driftWorkflows: async (config, opts, step) =>
      traceWorkflows(
        await a.driftWorkflows(
          config,
          opts,
          traceFunction('workflow.step', step, (input) => ({ [ATTR.port]: 'workflow', ...stepAttributes(input) })),
        ),
      ),
    ...(a.policy && {
      policy: async (config, clock) =>
        tracePort(await a.policy!(config, clock), {
          name: 'policy',
          methods: ['decide'],
          attributes: (_m, [request]) => idAttributes(request),
        }),
    }),
    modelRuntimes: () => a.modelRuntimes().map(traceRuntime),
  };
}
