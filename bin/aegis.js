#!/usr/bin/env node
// `npx aegis …`: runs the TypeScript CLI through tsx, so the repo needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
