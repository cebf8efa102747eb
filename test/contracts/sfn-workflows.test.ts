import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import { SfnWorkflows } from '../../lib/platform/adapters/workflows/sfn.js';
import { startMoto, type Moto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';

/** The Workflows port on Step Functions (moto_server): the execution name is the promotion id. */
// absent only outside CI (startMoto throws in CI): the suite is then reported skipped
const moto: Moto | undefined = await startMoto();
let client: SFNClient;
let arns: { promotion: string; rollback: string };

describeUnless(moto ? undefined : NO_MOTO, 'SfnWorkflows (Step Functions via moto_server)', () => {
  beforeAll(async () => {
    client = new SFNClient({
      endpoint: moto!.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const create = async (name: string) => {
      const definition = readFileSync(`statemachines/${name}.asl.json`, 'utf8').replaceAll(
        '${RolloutStepArn}',
        'arn:aws:lambda:us-east-1:123456789012:function:aegis-rollout-step',
      );
      return (await client.send(new CreateStateMachineCommand({ name, definition, roleArn: 'arn:aws:iam::123456789012:role/aegis-sfn' })))
        .stateMachineArn!;
    };
    arns = { promotion: await create('promotion'), rollback: await create('rollback') };
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('starts an execution named after the promotion, with the promotion id as input', async () => {
    const wf = new SfnWorkflows(arns, client);
    const id = '1f0c4a4e-7c2b-4d55-9a43-6f0a8a7c1d01';
    const r = await wf.start('promotion', id, { promotionId: id });
    expect(r.started).toBe(true);
    expect(r.executionId).toMatch(new RegExp(`:execution:promotion:${id}$`));
    const d = await client.send(new DescribeExecutionCommand({ executionArn: r.executionId }));
    expect(d.name).toBe(id);
    expect(JSON.parse(d.input!)).toEqual({ promotionId: id });
  });

  it('never runs the same promotion twice: a repeated start names the one execution', async () => {
    const wf = new SfnWorkflows(arns, client);
    const id = '2a9e7d3b-1111-4c22-8d33-0e5f6a7b8c9d';
    const first = await wf.start('rollback', id, { promotionId: id });
    const again = await wf.start('rollback', id, { promotionId: id });
    // Step Functions answers a same-name, same-input start idempotently (the running execution)
    // or with ExecutionAlreadyExists (a finished one); either way there is one execution.
    expect(again.executionId).toBe(first.executionId);
    const { ListExecutionsCommand } = await import('@aws-sdk/client-sfn');
    const list = await client.send(new ListExecutionsCommand({ stateMachineArn: arns.rollback }));
    expect(list.executions!.filter((e) => e.name === id)).toHaveLength(1);
  });
});
