import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { buildExampleApp, exampleAssets } from '../example/app';
import { cfnLint, nagApp, runNag, tmpDir } from './helpers';

/** Every acknowledgment recorded in the construct tree: "<path> <id>: <reason>". */
function acknowledgments(root: import('constructs').IConstruct): string[] {
  const out: string[] = [];
  for (const c of root.node.findAll()) {
    for (const m of c.node.metadata) {
      if (/acknowledg/i.test(m.type)) {
        out.push(`${c.node.path} ${JSON.stringify(m.data)}`);
      }
    }
  }
  return out;
}

describe('example app', () => {
  const outdir = tmpDir('example');
  const app = buildExampleApp(outdir, exampleAssets(), { '@aws-cdk/core:failSynthOnValidationErrors': false });
  const nag = runNag(app);
  const templates = fs.readdirSync(outdir).filter(f => f.endsWith('.template.json')).map(f => path.join(outdir, f));

  test('synthesizes the three stacks', () => {
    expect(templates.map(f => path.basename(f)).sort()).toEqual([
      'TernEc2Example.template.json', 'TernEcsExample.template.json', 'TernLambdaExample.template.json',
    ]);
    const lambdaTpl = JSON.parse(fs.readFileSync(path.join(outdir, 'TernLambdaExample.template.json'), 'utf8'));
    const types = Object.values(lambdaTpl.Resources).map((r: any) => r.Type);
    expect(types.filter(t => t === 'AWS::Lambda::LayerVersion')).toHaveLength(2);
  });

  test('cdk-nag AwsSolutions: no violations', () => {
    expect(nag.violations).toEqual([]);
  });

  test('the only acknowledgments are the X-Ray Resource::* ones, with their reason', () => {
    // (aws-cdk-lib acknowledges its own CloudFormation-Validate findings, e.g. W3010 for AZs.)
    const acks = acknowledgments(app).filter(a => a.includes('AwsSolutions'));
    expect(acks.length).toBeGreaterThanOrEqual(3); // one per X-Ray grantee: function, task and instance roles
    for (const a of acks) {
      expect(a).toMatch(/\/TernXRayWrite /);
      expect(a).toContain('AwsSolutions-IAM5[Resource::*]');
      expect(a).toContain('X-Ray PutTraceSegments supports no resource-level permissions');
    }
  });

  test('cfn-lint passes on every synthesized template', () => {
    const { status, output } = cfnLint(templates);
    expect(output).toBe('');
    expect(status).toBe(0);
  });
});

describe('the checks can fail', () => {
  test('cdk-nag reports an unacknowledged wildcard', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Bad');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] }));
    const result = runNag(app);
    expect(result.violations.map(v => v.ruleName)).toContain('AwsSolutions-IAM5[Resource::*]');
  });

  test('cfn-lint reports a broken template', () => {
    const f = path.join(tmpDir('lint'), 'bad.template.json');
    fs.writeFileSync(f, JSON.stringify({ Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'soon' } } } }));
    const { status, output } = cfnLint([f]);
    expect(status).not.toBe(0);
    expect(output).toMatch(/E\d{4}/);
  });
});
