import type { Container } from '../composition/container.js';
import { StartupCheckError } from '../startup-checks.js';

/** How a handler gets its container: built on first use, shared after. */
export type ContainerProvider = () => Promise<Container>;

/**
 * The container; a production that refused to start fails the invocation as an init failure
 * would, with the check named in the function's error (API Gateway answers 502), not a 500
 * that looks like one bad request.
 */
export function containerOrRefusal(container: ContainerProvider, requestId: string): Promise<Container> {
  return container().catch((e: unknown) => {
    if (e instanceof StartupCheckError)
      console.error(JSON.stringify({ level: 'ERROR', message: 'startup check failed', check: e.check, reason: e.message, requestId }));
    throw e;
  });
}

/**
 * Process-wide memo for the Lambda composition root: built on first invocation, reused
 * after, so the production startup checks run once per cold start. A refusal
 * ({@link StartupCheckError}: Object Lock off, a wrong key spec, …) is kept too: every later
 * invocation of this container fails with it without asking AWS again (fix, then redeploy
 * or update the function so new containers start). Any other failure is retried.
 */
export function lazyContainer(build: () => Promise<Container>): ContainerProvider {
  let p: Promise<Container> | undefined;
  return () => {
    p ??= build().catch((e: unknown) => {
      if (!(e instanceof StartupCheckError)) p = undefined;
      throw e;
    });
    return p;
  };
}
