/**
 * Resolves CloudFormation intrinsics the way a deployment would, against the emulated
 * resources: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and the pseudo
 * parameters. A value nobody provided throws, naming it, so a template that grows a new
 * dependency fails the AWS-mode suite instead of running with a placeholder.
 */
export interface Deployed {
  region: string;
  accountId: string;
  stackName: string;
  /** logical id → what `Ref` gives */
  refs: Record<string, string>;
  /** `logicalId.Attribute` → what `Fn::GetAtt` gives */
  attrs: Record<string, string>;
}

export function resolver(d: Deployed): (value: unknown) => string {
  const pseudo: Record<string, string> = {
    'AWS::Region': d.region,
    'AWS::AccountId': d.accountId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': d.stackName,
  };
  const ref = (name: string): string => {
    const v = pseudo[name] ?? d.refs[name];
    if (v === undefined) throw new Error(`unresolved Ref ${name}`);
    return v;
  };
  const getAtt = (id: string, attr: string): string => {
    const v = d.attrs[`${id}.${attr}`];
    if (v === undefined) throw new Error(`unresolved Fn::GetAtt ${id}.${attr}`);
    return v;
  };
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const [[fn, arg]] = Object.entries(value) as [[string, any]];
      switch (fn) {
        case 'Ref':
          return ref(arg);
        case 'Fn::GetAtt':
          return Array.isArray(arg)
            ? getAtt(arg[0], arg[1])
            : getAtt(String(arg).split('.')[0]!, String(arg).split('.').slice(1).join('.'));
        case 'Fn::Join':
          return (arg[1] as unknown[]).map(resolve).join(arg[0]);
        case 'Fn::Select':
          return resolveList(arg[1])[Number(resolve(arg[0]))] ?? '';
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [arg[0] as string, arg[1] as Record<string, unknown>] : [arg as string, {}];
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in vars) return resolve(vars[name]);
            const [id, ...attr] = name.split('.');
            return attr.length ? getAtt(id!, attr.join('.')) : ref(id!);
          });
        }
      }
      throw new Error(`unsupported intrinsic ${fn}`);
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  };
  const resolveList = (value: unknown): string[] => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value && typeof value === 'object' && 'Fn::Split' in value) {
      const [sep, s] = (value as { 'Fn::Split': [string, unknown] })['Fn::Split'];
      return resolve(s).split(sep);
    }
    throw new Error(`cannot resolve a list from ${JSON.stringify(value)}`);
  };
  return resolve;
}
