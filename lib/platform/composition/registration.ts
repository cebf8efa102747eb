/** How a composition root runs the `register` state machine (asynchronous registration, issue 25). */
import type { Config } from '../config.js';
import type { Workflows } from '../ports/workflows.js';
import type { Container } from './container.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import { RegistryService } from '../../modules/registry/service.js';
import type { RegistryDeps } from '../../modules/registry/deps.js';

/** The register step every Task state of the register machine runs (the register-step function's handler on AWS). */
export type RegisterStep = (input: Record<string, unknown>) => Promise<unknown>;

/** `AdapterFactories` in services.ts extends it. */
export interface RegistrationAdapters {
  /** the same ASL in-process (locally), Step Functions at `AEGIS_REGISTER_STATE_MACHINE_ARN` (Lambda) */
  registerWorkflows(config: Config, opts: { mode: Container['mode']; logger: Container['logger'] }, step: RegisterStep): Promise<Workflows>;
}

/** The register machine of a Lambda whose configuration names none: a registration over the threshold fails. */
export const unconfiguredRegisterWorkflows: Workflows = {
  start: () => Promise.reject(new Error('AEGIS_REGISTER_STATE_MACHINE_ARN is not set: this function cannot register asynchronously')),
};

export const REGISTRY_DEFAULTS = { retentionDays: 365, uploadTtlSeconds: 3600 } as const;

/** The registry service and the register state machine whose step calls back into it. */
export async function registryService(
  config: Config,
  opts: { mode: Container['mode'] },
  d: RegistryDeps & { metrics: ServiceMetrics; logger: Container['logger'] },
  adapters: RegistrationAdapters,
): Promise<{ registry: RegistryService; registerWorkflows: Workflows }> {
  let registerWorkflows: Workflows | undefined;
  const registry: RegistryService = new RegistryService(d, {
    ...REGISTRY_DEFAULTS,
    pendingUploadTtlSeconds: config.pendingUploadTtlSeconds,
    multipartPartBytes: config.multipartPartBytes,
    downloadTtlSeconds: config.downloadUrlTtlSeconds,
    // Lambda functions may not delete objects: the artifact bucket's lifecycle rule removes tagged pending uploads.
    pendingUploadBytes: opts.mode === 'lambda' ? 'lifecycle' : 'delete',
    metrics: d.metrics,
    registerAsyncBytes: config.registration.asyncBytes,
    registerWorkflows: () => registerWorkflows!,
  });
  const step = (input: Record<string, unknown>) => registry.registrationStep(input as never);
  registerWorkflows = await adapters.registerWorkflows(config, { mode: opts.mode, logger: d.logger }, step);
  return { registry, registerWorkflows };
}
