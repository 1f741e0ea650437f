import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TernLambdaExtension, TernLayer, TernPermissions, XRAY_WILDCARD_REASON } from '../lib';
import { dummyLayerDir, grants, statementsOfRole } from './helpers';

const WS = 'arn:aws:aps:eu-west-1:111122223333:workspace/ws-abc123';

function setup() {
  const stack = new Stack(new App(), 'S');
  const x86 = new TernLayer(stack, 'X86', { architecture: lambda.Architecture.X86_64, code: lambda.Code.fromAsset(dummyLayerDir()) });
  const arm = new TernLayer(stack, 'Arm', { architecture: lambda.Architecture.ARM_64, code: lambda.Code.fromAsset(dummyLayerDir()) });
  const fn = (id: string, architecture: lambda.Architecture) => new lambda.Function(stack, id, {
    runtime: lambda.Runtime.PROVIDED_AL2023, handler: 'bootstrap', architecture,
    code: lambda.Code.fromAsset(path.join(__dirname, '..', 'example', 'function')),
  });
  return { stack, x86, arm, fn };
}

const layerRef = (stack: Stack, layer: TernLayer) => ({ Ref: stack.getLogicalId(layer.node.findChild('Layer').node.defaultChild as any) });

describe('TernLambdaExtension.addTo', () => {
  test('each function gets the layer of its own architecture', () => {
    const { stack, x86, arm, fn } = setup();
    const a = fn('A', lambda.Architecture.ARM_64);
    const b = fn('B', lambda.Architecture.X86_64);
    expect(TernLambdaExtension.addTo(a, { layers: { x86_64: x86, arm64: arm } })).toBe(arm);
    expect(TernLambdaExtension.addTo(b, { layers: { x86_64: x86, arm64: arm } })).toBe(x86);
    const t = Template.fromStack(stack);
    const fns = t.findResources('AWS::Lambda::Function');
    const byArch = Object.fromEntries(Object.values(fns).map((f: any) => [f.Properties.Architectures[0], f.Properties.Layers]));
    expect(byArch.arm64).toEqual([layerRef(stack, arm)]);
    expect(byArch.x86_64).toEqual([layerRef(stack, x86)]);
  });

  test('a function whose architecture has no layer is refused', () => {
    const { x86, arm, fn } = setup();
    expect(() => TernLambdaExtension.addTo(fn('A', lambda.Architecture.ARM_64), { layers: { x86_64: x86 } }))
      .toThrow(/runs on arm64 but no arm64 Tern layer/);
    expect(() => TernLambdaExtension.addTo(fn('B', lambda.Architecture.X86_64), { layers: { arm64: arm } }))
      .toThrow(/runs on x86_64 but no x86_64 Tern layer/);
  });

  test('a layer given under the wrong architecture is refused', () => {
    const { arm, fn } = setup();
    expect(() => TernLambdaExtension.addTo(fn('A', lambda.Architecture.X86_64), { layers: { x86_64: arm } }))
      .toThrow(/given as x86_64 is built for arm64/);
  });

  test('an imported layer carries its architecture', () => {
    const { stack, fn } = setup();
    const arn = 'arn:aws:lambda:us-east-1:111122223333:layer:tern-arm64:3';
    const imported = TernLayer.fromLayerVersionArn(stack, 'Imp', arn, lambda.Architecture.ARM_64);
    TernLambdaExtension.addTo(fn('A', lambda.Architecture.ARM_64), { layers: { arm64: imported } });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Layers: [arn] });
    expect(() => TernLambdaExtension.addTo(fn('B', lambda.Architecture.X86_64), { layers: { x86_64: imported } }))
      .toThrow(/built for arm64/);
  });

  test('sets OPENTELEMETRY_COLLECTOR_CONFIG_URI (default and given)', () => {
    const { stack, arm, fn } = setup();
    TernLambdaExtension.addTo(fn('A', lambda.Architecture.ARM_64), { layers: { arm64: arm } });
    TernLambdaExtension.addTo(fn('B', lambda.Architecture.ARM_64), { layers: { arm64: arm }, configPath: 's3://bucket/tern.yaml' });
    const t = Template.fromStack(stack);
    const envs = Object.values(t.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Environment.Variables.OPENTELEMETRY_COLLECTOR_CONFIG_URI).sort();
    expect(envs).toEqual(['/var/task/collector.yaml', 's3://bucket/tern.yaml']);
  });

  test('grants exactly X-Ray PutTraceSegments on * and aps:RemoteWrite on the workspace', () => {
    const { stack, arm, fn } = setup();
    const f = fn('A', lambda.Architecture.ARM_64);
    TernLambdaExtension.addTo(f, { layers: { arm64: arm }, exporters: { xray: true, amp: { workspaceArn: WS } } });
    const t = Template.fromStack(stack);
    const roleId = stack.getLogicalId(f.role!.node.defaultChild as any);
    expect(grants(statementsOfRole(t, roleId))).toEqual(['aps:RemoteWrite ' + WS, 'xray:PutTraceSegments *']);
    // The X-Ray statement is alone in its own policy (the one the cdk-nag acknowledgment is on).
    const xrayPolicy = f.role!.node.findChild('TernXRayWrite');
    const xrayId = stack.getLogicalId(xrayPolicy.node.defaultChild as any);
    t.hasResource('AWS::IAM::Policy', Match.objectLike({}));
    expect(t.toJSON().Resources[xrayId].Properties.PolicyDocument.Statement).toEqual([
      { Sid: 'TernXRayWrite', Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: '*' },
    ]);
    // The function is created only after its X-Ray permission exists.
    const fnId = stack.getLogicalId(f.node.defaultChild as any);
    expect(t.toJSON().Resources[fnId].DependsOn).toContain(xrayId);
    expect(XRAY_WILDCARD_REASON).toMatch(/no resource-level permissions/);
  });

  test('no exporters, no grants', () => {
    const { stack, arm, fn } = setup();
    TernLambdaExtension.addTo(fn('A', lambda.Architecture.ARM_64), { layers: { arm64: arm } });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('AMP remote-write URL from the workspace ARN', () => {
    const stack = new Stack(new App(), 'S');
    expect(stack.resolve(TernPermissions.ampRemoteWriteUrl(stack, WS))).toEqual({
      'Fn::Join': ['', ['https://aps-workspaces.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/workspaces/ws-abc123/api/v1/remote_write']],
    });
  });
});
