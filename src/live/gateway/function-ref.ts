// Lambda's FunctionName forms: `name`, `name:qualifier`, `account:function:name[:qualifier]` and
// `arn:aws:lambda:region:account:function:name[:qualifier]`. In Fare the account is the tenant id.

export interface FunctionRef {
  /** Owning tenant, when the name is an ARN or partial ARN. */
  readonly owner?: string;
  readonly name: string;
  readonly qualifier?: string;
}

const NAME = '([A-Za-z0-9_][A-Za-z0-9_-]{0,63})';
const QUALIFIER = '(?::(\\$LATEST|[A-Za-z0-9_-]{1,128}))?';
const TENANT = '([a-z0-9][a-z0-9-]{0,62})';
const FULL = new RegExp(`^arn:aws[a-z-]*:lambda:[a-z0-9-]*:${TENANT}:function:${NAME}${QUALIFIER}$`);
const PARTIAL = new RegExp(`^${TENANT}:function:${NAME}${QUALIFIER}$`);
const PLAIN = new RegExp(`^${NAME}${QUALIFIER}$`);

export function parseFunctionRef(s: string): FunctionRef | undefined {
  const full = FULL.exec(s) ?? PARTIAL.exec(s);
  if (full !== null) {
    const [, owner = '', name = '', qualifier] = full;
    return { owner, name, ...(qualifier !== undefined ? { qualifier } : {}) };
  }
  const plain = PLAIN.exec(s);
  if (plain !== null) {
    const [, name = '', qualifier] = plain;
    return { name, ...(qualifier !== undefined ? { qualifier } : {}) };
  }
  return undefined;
}
