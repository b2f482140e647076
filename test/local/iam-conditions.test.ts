/**
 * Condition operators, set operators, policy variables and wildcards, on the examples of the IAM
 * User Guide ("IAM JSON policy elements: Condition operators", "Conditions with multiple context keys
 * or values", "Single-valued vs. multivalued context keys", "IAM policy elements: Variables and tags",
 * "IAM JSON policy elements: Resource").
 */
import { ConditionValue, IamPolicies, PolicyStatementJson } from '../../local/iam';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/analyst`;
const OBJECT = 'arn:aws:s3:::amzn-s3-demo-bucket/reports/2025/q4.csv';

function evaluate(statement: Partial<PolicyStatementJson>, context: Record<string, ConditionValue> = {}, resource = OBJECT, action = 's3:GetObject'): boolean {
  const iam = IamPolicies.of({
    account: ACCOUNT,
    identity: [{ roleArn: ROLE, logicalId: 'P', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', ...statement }] } }],
  });
  return iam.authorize({ principal: iam.rolePrincipal(ROLE, 'session'), action, resource, context }).decision === 'Allow';
}
const holds = (condition: PolicyStatementJson['Condition'], context: Record<string, ConditionValue> = {}): boolean => evaluate({ Condition: condition }, context);

describe('string operators', () => {
  test('StringEquals is case-sensitive, StringEqualsIgnoreCase is not; key names are case-insensitive', () => {
    expect(holds({ StringEquals: { 'aws:PrincipalTag/user': 'johndoe' } }, { 'aws:PrincipalTag/user': 'johndoe' })).toBe(true);
    expect(holds({ StringEquals: { 'aws:PrincipalTag/user': 'johndoe' } }, { 'aws:PrincipalTag/user': 'JohnDoe' })).toBe(false);
    expect(holds({ StringEqualsIgnoreCase: { 'aws:PrincipalTag/user': 'johndoe' } }, { 'aws:PrincipalTag/user': 'JohnDoe' })).toBe(true);
    expect(holds({ StringNotEqualsIgnoreCase: { 'aws:PrincipalTag/user': 'johndoe' } }, { 'aws:PrincipalTag/user': 'JOHNDOE' })).toBe(false);
    expect(holds({ IpAddress: { 'aws:SourceIP': '203.0.113.0/24' } }, { 'AWS:SourceIp': '203.0.113.7' })).toBe(true);
  });

  test('StringLike: * and ? wildcards; StringEquals takes them literally', () => {
    expect(holds({ StringLike: { 's3:prefix': ['home/*', 'reports/20??/'] } }, { 's3:prefix': 'reports/2025/' })).toBe(true);
    expect(holds({ StringLike: { 's3:prefix': 'reports/20??/' } }, { 's3:prefix': 'reports/202/' })).toBe(false);
    expect(holds({ StringNotLike: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'home/a' })).toBe(false);
    expect(holds({ StringEquals: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'home/a' })).toBe(false);
    expect(holds({ StringEquals: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'home/*' })).toBe(true);
  });

  test('several values: OR; a negated operator with several values: NOR', () => {
    expect(holds({ StringEquals: { 'aws:PrincipalTag/dept': ['finance', 'hr'] } }, { 'aws:PrincipalTag/dept': 'hr' })).toBe(true);
    expect(holds({ StringNotEquals: { 'aws:PrincipalTag/dept': ['finance', 'hr'] } }, { 'aws:PrincipalTag/dept': 'hr' })).toBe(false);
    expect(holds({ StringNotEquals: { 'aws:PrincipalTag/dept': ['finance', 'hr'] } }, { 'aws:PrincipalTag/dept': 'it' })).toBe(true);
  });

  test('several keys under one operator, and several operators: AND', () => {
    const condition = {
      StringEquals: { 'aws:PrincipalTag/department': ['finance', 'hr'], 'aws:PrincipalTag/role': 'audit' },
      ArnLike: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/analyst`, `arn:aws:iam::${ACCOUNT}:role/auditor`] },
    };
    const ok = { 'aws:PrincipalTag/department': 'hr', 'aws:PrincipalTag/role': 'audit' };
    expect(holds(condition, ok)).toBe(true);
    expect(holds(condition, { ...ok, 'aws:PrincipalTag/role': 'admin' })).toBe(false);
    expect(holds(condition, { ...ok, 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/other` })).toBe(false);
  });
});

describe('a key absent from the request', () => {
  test('positive operators are false, negated ones true, ...IfExists true', () => {
    expect(holds({ StringEquals: { 'aws:SourceVpc': 'vpc-1' } })).toBe(false);
    expect(holds({ StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } })).toBe(true);
    expect(holds({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:sns:*:*:*' } })).toBe(true);
    expect(holds({ StringEqualsIfExists: { 'aws:SourceVpc': 'vpc-1' } })).toBe(true);
    expect(holds({ StringEqualsIfExists: { 'aws:SourceVpc': 'vpc-1' } }, { 'aws:SourceVpc': 'vpc-2' })).toBe(false);
    expect(holds({ NumericLessThanIfExists: { 's3:max-keys': '10' } })).toBe(true);
  });

  test('Null tests presence', () => {
    expect(holds({ Null: { 'aws:TokenIssueTime': 'true' } })).toBe(true);
    expect(holds({ Null: { 'aws:TokenIssueTime': 'true' } }, { 'aws:TokenIssueTime': '2025-11-30T00:00:00Z' })).toBe(false);
    expect(holds({ Null: { 'aws:TokenIssueTime': 'false' } }, { 'aws:TokenIssueTime': '2025-11-30T00:00:00Z' })).toBe(true);
  });
});

describe('multivalued keys and set operators', () => {
  test('ForAllValues: every request value matches (true on a missing key); ForAnyValue: one does', () => {
    const allowed = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['environment', 'cost-center'] } };
    expect(holds(allowed, { 'aws:TagKeys': ['environment'] })).toBe(true);
    expect(holds(allowed, { 'aws:TagKeys': ['environment', 'owner'] })).toBe(false);
    expect(holds(allowed)).toBe(true);
    const any = { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['environment', 'cost-center'] } };
    expect(holds(any, { 'aws:TagKeys': ['owner', 'cost-center'] })).toBe(true);
    expect(holds(any, { 'aws:TagKeys': ['owner'] })).toBe(false);
    expect(holds(any)).toBe(false);
    expect(holds({ 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': 'x' } })).toBe(true);
  });

  test('negated operators under set operators apply to each request value', () => {
    expect(holds({ 'ForAllValues:StringNotEquals': { 'aws:CalledVia': 'glue.amazonaws.com' } }, { 'aws:CalledVia': ['athena.amazonaws.com'] })).toBe(true);
    expect(holds({ 'ForAnyValue:StringNotLike': { 'aws:CalledVia': 'athena.*' } }, { 'aws:CalledVia': ['athena.amazonaws.com', 'glue.amazonaws.com'] })).toBe(true);
    expect(holds({ 'ForAnyValue:StringNotLike': { 'aws:CalledVia': 'athena.*' } }, { 'aws:CalledVia': ['athena.amazonaws.com'] })).toBe(false);
  });

  test('a multivalued key without a set operator does not hold', () => {
    expect(holds({ StringEquals: { 'aws:CalledVia': 'athena.amazonaws.com' } }, { 'aws:CalledVia': ['athena.amazonaws.com'] })).toBe(false);
    expect(holds({ StringEquals: { 'aws:CalledVia': 'athena.amazonaws.com' } }, { 'aws:CalledVia': 'athena.amazonaws.com' })).toBe(true);
  });
});

describe('numeric, date, boolean, IP address and ARN operators', () => {
  test('Numeric*', () => {
    expect(holds({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 10 })).toBe(true);
    expect(holds({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' })).toBe(false);
    expect(holds({ NumericGreaterThanEquals: { 's3:TlsVersion': 1.2 } }, { 's3:TlsVersion': '1.3' })).toBe(true);
    expect(holds({ NumericLessThan: { 's3:TlsVersion': 1.2 } }, { 's3:TlsVersion': 'not-a-number' })).toBe(false);
    expect(holds({ NumericNotEquals: { 's3:max-keys': ['10', '20'] } }, { 's3:max-keys': '20' })).toBe(false);
  });

  test('Date*: ISO 8601 and epoch seconds compare as instants', () => {
    expect(holds({ DateGreaterThan: { 'aws:CurrentTime': '2025-11-29T23:59:59Z' } }, { 'aws:CurrentTime': '2025-11-30T00:00:00Z' })).toBe(true);
    expect(holds({ DateLessThan: { 'aws:CurrentTime': '2025-11-30T00:00:00Z' } }, { 'aws:CurrentTime': '2025-11-30T00:00:00Z' })).toBe(false);
    expect(holds({ DateEquals: { 'aws:EpochTime': '2025-11-30T00:00:00Z' } }, { 'aws:EpochTime': 1764460800 })).toBe(true);
    // The evaluator fills aws:CurrentTime with the present time.
    expect(holds({ DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } })).toBe(true);
  });

  test('Bool, and aws:SecureTransport is true unless the request says otherwise', () => {
    expect(holds({ Bool: { 'aws:SecureTransport': 'true' } })).toBe(true);
    expect(holds({ Bool: { 'aws:SecureTransport': 'false' } })).toBe(false);
    expect(holds({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': false })).toBe(true);
  });

  test('IpAddress / NotIpAddress with IPv4 and IPv6 CIDRs', () => {
    const c = { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } };
    expect(holds(c, { 'aws:SourceIp': '203.0.113.254' })).toBe(true);
    expect(holds(c, { 'aws:SourceIp': '203.0.114.1' })).toBe(false);
    expect(holds(c, { 'aws:SourceIp': '2001:db8:1234:5678::1' })).toBe(true);
    expect(holds(c, { 'aws:SourceIp': '2001:db8:1234:5679::1' })).toBe(false);
    expect(holds({ NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { 'aws:SourceIp': '198.51.100.1' })).toBe(true);
  });

  test('ArnLike / ArnEquals match each of the six segments, with wildcards in both', () => {
    const alarm = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:medlaunch-elt-pipeline-failed`;
    expect(holds({ ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:medlaunch-elt-*` } }, { 'aws:SourceArn': alarm })).toBe(true);
    expect(holds({ ArnEquals: { 'aws:SourceArn': `arn:aws:cloudwatch:*:${ACCOUNT}:alarm:*` } }, { 'aws:SourceArn': alarm })).toBe(true);
    expect(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:*:444455556666:alarm:*' } }, { 'aws:SourceArn': alarm })).toBe(false);
    // A wildcard in the region segment does not reach into the account segment.
    expect(holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:us-*:alarm:*' } }, { 'aws:SourceArn': alarm })).toBe(false);
    expect(holds({ ArnNotEquals: { 'aws:SourceArn': alarm } }, { 'aws:SourceArn': alarm })).toBe(false);
  });

  test('an unknown operator never holds', () => {
    expect(holds({ StringSortOf: { 'aws:SourceVpc': 'x' } } as never, { 'aws:SourceVpc': 'x' })).toBe(false);
  });
});

describe('policy variables', () => {
  test('in Resource: replaced by the request value; a missing one makes the entry match nothing', () => {
    const home = { Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:PrincipalTag/user}/*' };
    expect(evaluate(home, { 'aws:PrincipalTag/user': 'jane' }, 'arn:aws:s3:::amzn-s3-demo-bucket/home/jane/a.txt')).toBe(true);
    expect(evaluate(home, { 'aws:PrincipalTag/user': 'jane' }, 'arn:aws:s3:::amzn-s3-demo-bucket/home/joe/a.txt')).toBe(false);
    expect(evaluate(home, {}, 'arn:aws:s3:::amzn-s3-demo-bucket/home//a.txt')).toBe(false);
    expect(evaluate({ NotResource: 'arn:aws:s3:::x/${aws:PrincipalTag/user}/*' }, {}, OBJECT)).toBe(false);
  });

  test("the evaluator's global keys can be variables; defaults and the ${*} escape", () => {
    expect(evaluate({ Resource: 'arn:aws:sns:us-east-1:${aws:PrincipalAccount}:alerts' }, {}, `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`, 'sns:Publish')).toBe(true);
    expect(evaluate({ Resource: "arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'shared'}/*" }, {}, 'arn:aws:s3:::amzn-s3-demo-bucket/shared/x')).toBe(true);
    expect(evaluate({ Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/${*}' }, {}, 'arn:aws:s3:::amzn-s3-demo-bucket/x')).toBe(false);
    expect(evaluate({ Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/${*}' }, {}, 'arn:aws:s3:::amzn-s3-demo-bucket/*')).toBe(true);
  });

  test('in condition values; a missing variable fails the test, negated or not', () => {
    expect(holds({ StringEquals: { 's3:prefix': 'home/${aws:PrincipalTag/user}/' } }, { 's3:prefix': 'home/jane/', 'aws:PrincipalTag/user': 'jane' })).toBe(true);
    expect(holds({ StringNotEquals: { 's3:prefix': 'home/${aws:PrincipalTag/user}/' } }, { 's3:prefix': 'home/jane/' })).toBe(false);
    expect(holds({ StringEquals: { 's3:prefix': 'home/${aws:PrincipalTag/user}/' } }, { 's3:prefix': 'home/jane/' })).toBe(false);
  });

  test('a policy of the 2008-10-17 language version takes ${...} literally', () => {
    const iam = IamPolicies.of({
      account: ACCOUNT,
      identity: [{ roleArn: ROLE, logicalId: 'P', document: { Version: '2008-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:PrincipalAccount}' }] } }],
    });
    const p = iam.rolePrincipal(ROLE);
    expect(iam.authorize({ principal: p, action: 's3:GetObject', resource: `arn:aws:s3:::b/${ACCOUNT}` }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: p, action: 's3:GetObject', resource: 'arn:aws:s3:::b/${aws:PrincipalAccount}' }).decision).toBe('Allow');
  });
});

describe('Action and Resource wildcards', () => {
  test('actions match case-insensitively with * and ?', () => {
    expect(evaluate({ Action: 'S3:Get*' })).toBe(true);
    expect(evaluate({ Action: 's3:?etObject' })).toBe(true);
    expect(evaluate({ Action: 's3:Put*' })).toBe(false);
    expect(evaluate({ Action: 'sqs:*' })).toBe(false);
  });

  test('resources: case-sensitive; * spans "/" (and ":" in the resource part); ? is one character', () => {
    expect(evaluate({ Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/*' })).toBe(true);
    expect(evaluate({ Resource: 'arn:aws:s3:::AMZN-S3-DEMO-BUCKET/*' })).toBe(false);
    expect(evaluate({ Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/reports/202?/*' })).toBe(true);
    expect(evaluate({ Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/reports/20?/*' })).toBe(false);
    const stream = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/fn:log-stream:2025/11/30/[$LATEST]abc`;
    expect(evaluate({ Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/fn:*` }, {}, stream, 'logs:PutLogEvents')).toBe(true);
    expect(evaluate({ Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/other:*` }, {}, stream, 'logs:PutLogEvents')).toBe(false);
  });

  test('a * inside an ARN segment stays in it; one ending a segment may run past the colon', () => {
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;
    expect(evaluate({ Resource: `arn:aws:sns:us-*-1:${ACCOUNT}:alerts` }, {}, topic, 'sns:Publish')).toBe(true);
    expect(evaluate({ Resource: 'arn:aws:sns:us-*:alerts' }, {}, topic, 'sns:Publish')).toBe(true);
    expect(evaluate({ Resource: 'arn:aws:sns:u*t-1:*' }, {}, topic, 'sns:Publish')).toBe(true);
    expect(evaluate({ Resource: `arn:aws:sns:us*1${ACCOUNT}:alerts` }, {}, topic, 'sns:Publish')).toBe(false);
  });
});
