import { AccessDeniedError, callerOf, IamPolicies, isAwsManagedKey, kmsKeyArnOf, PolicyDocumentJson } from '../../local/iam';
import { LocalCredentials, requestAccessKeyId } from '../../local/iam/credentials';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/worker`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/other`;
const BUCKET = 'arn:aws:s3:::data-bucket';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;

function doc(...Statement: PolicyDocumentJson['Statement'][]): PolicyDocumentJson {
  return { Version: '2012-10-17', Statement: Statement.flat() as never };
}

function policies(identity: PolicyDocumentJson[], resource: Array<[string, PolicyDocumentJson]> = []): IamPolicies {
  return IamPolicies.of({
    account: ACCOUNT,
    identity: identity.map((document, i) => ({ roleArn: ROLE, logicalId: `Policy${i}`, document })),
    resource: resource.map(([resourceArn, document], i) => ({ resourceArn, logicalId: `ResourcePolicy${i}`, document })),
  });
}

describe('IamPolicies.authorize: identity policies', () => {
  const iam = policies([doc({ Effect: 'Allow', Action: ['s3:Get*', 's3:ListBucket'], Resource: [`${BUCKET}/in/*`, BUCKET] })]);
  const role = iam.rolePrincipal(ROLE, 'fn');

  test('Action wildcards match case-insensitively; Resource wildcards span "/"', () => {
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/in/a/b.json` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 'S3:getobject', resource: `${BUCKET}/in/x` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 's3:ListBucket', resource: BUCKET }).decision).toBe('Allow');
  });

  test('a resource outside the pattern, another action, or another role is implicitly denied', () => {
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/out/x` })).toEqual({
      decision: 'ImplicitDeny', reason: 'because no identity-based policy allows the s3:GetObject action',
    });
    expect(iam.authorize({ principal: role, action: 's3:PutObject', resource: `${BUCKET}/in/x` }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: iam.rolePrincipal(OTHER_ROLE), action: 's3:GetObject', resource: `${BUCKET}/in/x` }).decision).toBe('ImplicitDeny');
  });

  test('Resource ARNs are case-sensitive', () => {
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/IN/x` }).decision).toBe('ImplicitDeny');
  });

  test('an explicit deny wins over an allow', () => {
    const denied = policies([
      doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
      doc({ Effect: 'Deny', Action: 's3:DeleteObject', Resource: `${BUCKET}/*` }),
    ]);
    const r = denied.authorize({ principal: role, action: 's3:DeleteObject', resource: `${BUCKET}/k` });
    expect(r).toMatchObject({ decision: 'ExplicitDeny', reason: 'with an explicit deny in an identity-based policy' });
    expect(denied.authorize({ principal: role, action: 's3:PutObject', resource: `${BUCKET}/k` }).decision).toBe('Allow');
  });

  test('NotAction and NotResource', () => {
    const iam2 = policies([doc({ Effect: 'Allow', NotAction: 's3:Delete*', NotResource: `${BUCKET}/secret/*` })]);
    expect(iam2.authorize({ principal: role, action: 's3:PutObject', resource: `${BUCKET}/a` }).decision).toBe('Allow');
    expect(iam2.authorize({ principal: role, action: 's3:DeleteObject', resource: `${BUCKET}/a` }).decision).toBe('ImplicitDeny');
    expect(iam2.authorize({ principal: role, action: 's3:PutObject', resource: `${BUCKET}/secret/a` }).decision).toBe('ImplicitDeny');
  });
});

describe('IamPolicies.authorize: resource policies', () => {
  test("the bucket policy's SecureTransport deny applies to every principal, the root user included", () => {
    const iam = policies([doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' })], [[BUCKET, doc({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: [BUCKET, `${BUCKET}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    })]]);
    const role = iam.rolePrincipal(ROLE);
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/k` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/k`, context: { 'aws:SecureTransport': false } }))
      .toMatchObject({ decision: 'ExplicitDeny', reason: 'with an explicit deny in a resource-based policy' });
    expect(iam.authorize({ principal: iam.rootPrincipal(), action: 's3:PutObject', resource: `${BUCKET}/k`, context: { 'aws:SecureTransport': 'false' } }).decision)
      .toBe('ExplicitDeny');
    expect(iam.authorize({ principal: iam.rootPrincipal(), action: 's3:PutObject', resource: `${BUCKET}/k` }).decision).toBe('Allow');
  });

  test('a resource policy naming the role allows without an identity policy; naming the account only delegates', () => {
    const iam = policies([], [[BUCKET, doc(
      { Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:GetObject', Resource: `${BUCKET}/*` },
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 's3:PutObject', Resource: `${BUCKET}/*` },
    )]]);
    const role = iam.rolePrincipal(ROLE);
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/k` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 's3:PutObject', resource: `${BUCKET}/k` }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: iam.rolePrincipal(OTHER_ROLE), action: 's3:GetObject', resource: `${BUCKET}/k` }).decision).toBe('ImplicitDeny');
  });

  test('service principals are allowed only by resource policies, with their conditions', () => {
    const alarm = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:a1`;
    const iam = policies([doc({ Effect: 'Allow', Action: 'sns:Publish', Resource: '*' })], [[TOPIC, doc({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: TOPIC,
      Condition: { ArnLike: { 'aws:SourceArn': alarm }, StringEquals: { 'aws:SourceAccount': ACCOUNT } },
    })]]);
    const cw = iam.servicePrincipal('cloudwatch.amazonaws.com');
    const ctx = { 'aws:SourceArn': alarm, 'aws:SourceAccount': ACCOUNT };
    expect(iam.authorize({ principal: cw, action: 'sns:Publish', resource: TOPIC, context: ctx }).decision).toBe('Allow');
    expect(iam.authorize({ principal: cw, action: 'sns:Publish', resource: TOPIC, context: { ...ctx, 'aws:SourceArn': `${alarm}x` } }))
      .toEqual({ decision: 'ImplicitDeny', reason: 'because no resource-based policy allows the sns:Publish action' });
    expect(iam.authorize({ principal: iam.servicePrincipal('events.amazonaws.com'), action: 'sns:Publish', resource: TOPIC, context: ctx }).decision)
      .toBe('ImplicitDeny');
  });
});

describe('IamPolicies.authorize: KMS key policies', () => {
  const keyPolicy = doc(
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
    { Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' },
  );

  test('the account-root statement enables identity policies; without it an identity allow is not enough', () => {
    const iam = policies([doc({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY })], [[KEY, keyPolicy]]);
    const role = iam.rolePrincipal(ROLE);
    expect(iam.authorize({ principal: role, action: 'kms:Decrypt', resource: KEY }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 'kms:Encrypt', resource: KEY })).toEqual({
      decision: 'ImplicitDeny', reason: 'because no identity-based policy allows the kms:Encrypt action',
    });
    const noRoot = iam.without((s) => String(JSON.stringify(s.statement.Principal)).includes(':root'));
    expect(noRoot.authorize({ principal: role, action: 'kms:Decrypt', resource: KEY })).toEqual({
      decision: 'ImplicitDeny', reason: 'because no resource-based policy allows the kms:Decrypt action',
    });
    expect(noRoot.authorize({ principal: iam.rootPrincipal(), action: 'kms:Decrypt', resource: KEY }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: iam.rootPrincipal(), action: 'kms:ScheduleKeyDeletion', resource: KEY }).decision).toBe('Allow');
  });

  test('a service named in the key policy needs no identity policy', () => {
    const iam = policies([], [[KEY, keyPolicy]]);
    const events = iam.servicePrincipal('events.amazonaws.com');
    expect(iam.authorize({ principal: events, action: 'kms:GenerateDataKey', resource: KEY }).decision).toBe('Allow');
    expect(iam.authorize({ principal: events, action: 'kms:Encrypt', resource: KEY }).decision).toBe('ImplicitDeny');
  });
});

describe('AccessDeniedError', () => {
  test('is worded as AWS words it, naming the assumed-role session, the action and the resource', () => {
    const iam = policies([]);
    let err: unknown;
    try {
      iam.assertAllowed({ principal: iam.rolePrincipal(ROLE, 'my-fn'), action: 's3:GetObject', resource: `${BUCKET}/k` });
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(AccessDeniedError);
    const e = err as AccessDeniedError;
    expect(e.name).toBe('AccessDenied');
    expect(e.decision).toBe('ImplicitDeny');
    expect(e.message).toBe(`User: arn:aws:sts::${ACCOUNT}:assumed-role/worker/my-fn is not authorized to perform: s3:GetObject `
      + `on resource: "${BUCKET}/k" because no identity-based policy allows the s3:GetObject action`);
  });

  test('the root user and service principals are named as they are', () => {
    const iam = policies([], [[TOPIC, doc({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: TOPIC })]]);
    expect(() => iam.assertAllowed({ principal: iam.rootPrincipal(), action: 'sns:Publish', resource: TOPIC }))
      .toThrow(`User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: sns:Publish on resource: ${TOPIC} with an explicit deny in a resource-based policy`);
    expect(() => iam.assertAllowed({ principal: iam.servicePrincipal('events.amazonaws.com'), action: 'sqs:SendMessage', resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:q` }))
      .toThrow(`User: events.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:${ACCOUNT}:q because no resource-based policy allows the sqs:SendMessage action`);
  });

  test('non-S3 resources are not quoted; an explicit deny is named', () => {
    const iam = policies([doc({ Effect: 'Deny', Action: 'sns:*', Resource: '*' })]);
    expect(() => iam.assertAllowed({ principal: iam.rolePrincipal(ROLE, 's'), action: 'sns:Publish', resource: TOPIC }))
      .toThrow(`User: arn:aws:sts::${ACCOUNT}:assumed-role/worker/s is not authorized to perform: sns:Publish on resource: ${TOPIC} `
        + 'with an explicit deny in an identity-based policy');
  });
});

describe('IamPolicies.denial', () => {
  test('undefined when allowed; otherwise the AccessDeniedError assertAllowed throws, without throwing it', () => {
    const iam = policies([doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: `${BUCKET}/in/*` })]);
    const role = iam.rolePrincipal(ROLE, 'fn');
    expect(iam.denial({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/in/a` })).toBeUndefined();
    const denied = iam.denial({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/out/a` });
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied!.decision).toBe('ImplicitDeny');
    expect(() => iam.assertAllowed({ principal: role, action: 's3:GetObject', resource: `${BUCKET}/out/a` })).toThrow(denied!.message);
  });
});

describe('kmsKeyArnOf', () => {
  test('a key id, alias name, key ARN or alias ARN as the ARN IAM evaluates', () => {
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    expect(kmsKeyArnOf('1234abcd', env)).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd`);
    expect(kmsKeyArnOf('alias/data', env)).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:alias/data`);
    expect(kmsKeyArnOf(KEY, env)).toBe(KEY);
    expect(kmsKeyArnOf('k', { ...env, partition: 'aws-us-gov' })).toBe(`arn:aws-us-gov:kms:eu-west-1:${ACCOUNT}:key/k`);
    expect(isAwsManagedKey('alias/aws/sns')).toBe(true);
    expect(isAwsManagedKey(`arn:aws:kms:us-east-1:${ACCOUNT}:alias/aws/s3`)).toBe(true);
    expect(isAwsManagedKey('alias/awsome')).toBe(false);
    expect(isAwsManagedKey(KEY)).toBe(false);
  });
});

describe('callerOf', () => {
  const credentials = new LocalCredentials(ACCOUNT);
  const role = { kind: 'role' as const, arn: ROLE, account: ACCOUNT, sessionName: 'fn' };
  const key = credentials.for(role).accessKeyId;
  const errors = { missing: () => new Error('missing'), unknown: () => new Error('unknown') };
  const req = (url: string, authorization?: string) => ({ url, headers: authorization === undefined ? {} : { authorization } });

  test('the principal of the access key in the Authorization header or a presigned URL', () => {
    const auth = `AWS4-HMAC-SHA256 Credential=${key}/20250101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=ab`;
    expect(callerOf(req('/', auth), credentials, errors)).toEqual(role);
    expect(callerOf(req(`/?X-Amz-Credential=${encodeURIComponent(`${key}/20250101/us-east-1/s3/aws4_request`)}`), credentials, errors)).toEqual(role);
    expect(requestAccessKeyId(req('/', auth))).toBe(key);
  });

  test("an unsigned request and an unknown key fail with the service's own errors", () => {
    expect(() => callerOf(req('/?Action=Publish'), credentials, errors)).toThrow('missing');
    expect(() => callerOf(req('/', 'AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20250101/us-east-1/sns/aws4_request'), credentials, errors)).toThrow('unknown');
  });
});
