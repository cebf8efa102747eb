import { SFNClient, StartExecutionCommand, ExecutionAlreadyExists } from '@aws-sdk/client-sfn';
import type { MachineName, WorkflowInput, Workflows } from '../../ports/workflows.js';

/** Step Functions (Standard): the execution name is the promotion id, so a repeated start is a no-op. */
export class SfnWorkflows implements Workflows {
  readonly #client: SFNClient;

  constructor(
    private readonly arns: Record<MachineName, string>,
    client?: SFNClient,
  ) {
    this.#client = client ?? new SFNClient({});
  }

  async start(machine: MachineName, name: string, input: WorkflowInput) {
    try {
      const r = await this.#client.send(
        new StartExecutionCommand({ stateMachineArn: this.arns[machine], name, input: JSON.stringify(input) }),
      );
      return { executionId: r.executionArn!, started: true };
    } catch (e) {
      // Same name and input: Step Functions refuses a second run, which is what we want.
      if (e instanceof ExecutionAlreadyExists)
        return { executionId: `${this.arns[machine].replace(':stateMachine:', ':execution:')}:${name}`, started: false };
      throw e;
    }
  }
}
