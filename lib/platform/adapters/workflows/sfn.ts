import { SFNClient, StartExecutionCommand, ExecutionAlreadyExists } from '@aws-sdk/client-sfn';
import type { MachineName, WorkflowInput, Workflows } from '../../ports/workflows.js';

/** Step Functions (Standard): the execution name is the promotion id, so a repeated start is a no-op. */
export class SfnWorkflows implements Workflows {
  readonly #client: SFNClient;

  constructor(
    /** the state machines this process starts (a function that starts none of a machine lacks its ARN) */
    private readonly arns: Partial<Record<MachineName, string>>,
    client?: SFNClient,
  ) {
    this.#client = client ?? new SFNClient({});
  }

  async start(machine: MachineName, name: string, input: WorkflowInput) {
    const arn = this.arns[machine];
    if (!arn) throw new Error(`no ${machine} state machine is configured for this function`);
    try {
      const r = await this.#client.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }));
      return { executionId: r.executionArn!, started: true };
    } catch (e) {
      // Same name and input: Step Functions refuses a second run, which is what we want.
      if (e instanceof ExecutionAlreadyExists)
        return { executionId: `${arn.replace(':stateMachine:', ':execution:')}:${name}`, started: false };
      throw e;
    }
  }
}
