import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { AegisFunction } from './aegis-function.js';

/** The variable the register route's function starts registrations on (`lib/platform/config-env.ts`). */
export const REGISTER_STATE_MACHINE_ARN_VARIABLE = 'AEGIS_REGISTER_STATE_MACHINE_ARN';

/** states:StartExecution on the register state machine only (`RouteAccess.startRegistrations`); its ARN as `AEGIS_REGISTER_STATE_MACHINE_ARN`. */
export function grantStartRegistrations(fn: AegisFunction, machine: sfn.IStateMachine | undefined): void {
  if (!machine) throw new Error(`${fn.node.path} may start registrations, but no register state machine was given`);
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machine.stateMachineArn] }));
  fn.function.addEnvironment(REGISTER_STATE_MACHINE_ARN_VARIABLE, machine.stateMachineArn);
}
