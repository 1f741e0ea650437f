import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TernLayer } from '../lib';
import { dummyLayerDir, REPO } from './helpers';

function layerStack(architecture: lambda.Architecture) {
  const stack = new Stack(new App(), 'S');
  const layer = new TernLayer(stack, 'Tern', { architecture, code: lambda.Code.fromAsset(dummyLayerDir()) });
  return { stack, layer, template: Template.fromStack(stack) };
}

/** CompatibleRuntimes of the TernLayer resource in template.yaml (read as text: it has !Ref tags). */
function samRuntimes(): string[] {
  const text = fs.readFileSync(path.join(REPO, 'template.yaml'), 'utf8');
  const block = text.split('\n  TernLayer:\n')[1].split('\n  TernLayerArm64:')[0];
  const runtimes = block.split('CompatibleRuntimes:\n')[1].split('\n');
  const out: string[] = [];
  for (const line of runtimes) {
    const m = /^ {8}- (\S+)$/.exec(line);
    if (!m) break;
    out.push(m[1]);
  }
  return out;
}

describe('TernLayer', () => {
  test.each([
    [lambda.Architecture.ARM_64, 'arm64'],
    [lambda.Architecture.X86_64, 'x86_64'],
  ])('one %s layer lists exactly that architecture', (architecture, name) => {
    const { layer, template } = layerStack(architecture);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResource('AWS::Lambda::LayerVersion', {
      Properties: {
        CompatibleArchitectures: [name],
        LayerName: `tern-${name}`,
        LicenseInfo: 'Apache-2.0',
        CompatibleRuntimes: samRuntimes(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(layer.architecture).toBe(architecture);
  });

  test('default runtimes are the AL2023 runtimes of template.yaml', () => {
    expect(samRuntimes().length).toBeGreaterThanOrEqual(5);
    expect(TernLayer.AL2023_RUNTIMES.map(r => r.name)).toEqual(samRuntimes());
  });

  test('default code is the zip extension/package.sh writes', () => {
    expect(TernLayer.defaultZipPath(lambda.Architecture.ARM_64)).toBe(path.join(REPO, 'dist', 'tern-layer-arm64.zip'));
    expect(TernLayer.defaultZipPath(lambda.Architecture.X86_64)).toBe(path.join(REPO, 'dist', 'tern-layer-x86_64.zip'));
  });

  test('an unknown architecture is refused', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => new TernLayer(stack, 'T', {
      architecture: lambda.Architecture.custom('riscv64'), code: lambda.Code.fromAsset(dummyLayerDir()),
    })).toThrow(/x86_64 and arm64 only/);
  });

  test('custom name and runtimes', () => {
    const stack = new Stack(new App(), 'S');
    new TernLayer(stack, 'T', {
      architecture: lambda.Architecture.ARM_64, code: lambda.Code.fromAsset(dummyLayerDir()),
      layerVersionName: 'my-tern', compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', {
      LayerName: 'my-tern', CompatibleRuntimes: ['provided.al2023'],
    });
  });
});
