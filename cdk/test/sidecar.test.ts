import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { TernConfig, TernSidecar } from '../lib';
import { grants, REPO, statementsOfRole } from './helpers';

const WS = 'arn:aws:aps:us-east-1:111122223333:workspace/ws-xyz';

function setup(opts: { key?: boolean } = {}) {
  const stack = new Stack(new App(), 'S');
  const td = new ecs.FargateTaskDefinition(stack, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
  const image = ecs.ContainerImage.fromRegistry('example/app');
  const before = td.addContainer('before', { image, containerName: 'before' });
  const key = opts.key ? new kms.Key(stack, 'Key') : undefined;
  const parameter = new ssm.StringParameter(stack, 'Config', { parameterName: '/tern/config', stringValue: 'receivers: {}' });
  const sidecar = new TernSidecar(stack, 'Tern', {
    taskDefinition: td,
    image: ecs.ContainerImage.fromRegistry('example/tern:1'),
    config: TernConfig.fromParameter(parameter, key),
    exporters: { xray: true, amp: { workspaceArn: WS } },
  });
  const after = td.addContainer('after', { image, containerName: 'after' });
  return { stack, td, sidecar, parameter, before, after, key };
}

function containers(t: Template): Record<string, any> {
  const [td] = Object.values(t.findResources('AWS::ECS::TaskDefinition')) as any[];
  return Object.fromEntries(td.Properties.ContainerDefinitions.map((c: any) => [c.Name, c]));
}

describe('TernSidecar', () => {
  test('the tern container', () => {
    const { stack, parameter, sidecar } = setup();
    const t = Template.fromStack(stack);
    const tern = containers(t).tern;
    expect(tern.Image).toBe('example/tern:1');
    expect(tern.Essential).toBe(true);
    expect(tern.User).toBe('10001:10001');
    expect(tern.ReadonlyRootFilesystem).toBe(true);
    expect(tern.StopTimeout).toBe(30);
    expect(tern.Cpu).toBe(128);
    expect(tern.Memory).toBe(256);
    expect(tern.MemoryReservation).toBe(64);
    expect(tern.Command).toEqual(['--config', 'env:TERN_CONFIG']);
    expect(tern.HealthCheck).toEqual({
      Command: ['CMD', '/tern', 'healthcheck', '--url', 'http://127.0.0.1:13133/'],
      Interval: 10, Timeout: 3, Retries: 3, StartPeriod: 10,
    });
    expect(tern.Secrets).toEqual([{ Name: 'TERN_CONFIG', ValueFrom: stack.resolve(parameter.parameterArn) }]);
    expect(tern.Environment).toBeUndefined();
    expect(tern.PortMappings).toBeUndefined();
    expect(tern.DependsOn).toBeUndefined();
    expect(tern.LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': stack.resolve(sidecar.logGroup.logGroupName),
        'awslogs-stream-prefix': 'tern',
        'awslogs-region': { Ref: 'AWS::Region' },
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('every other container, added before or after, waits for tern HEALTHY', () => {
    const { stack } = setup();
    const c = containers(Template.fromStack(stack));
    expect(Object.keys(c).sort()).toEqual(['after', 'before', 'tern']);
    for (const name of ['before', 'after']) {
      expect(c[name].DependsOn).toEqual([{ ContainerName: 'tern', Condition: 'HEALTHY' }]);
    }
  });

  test('explicit dependents only', () => {
    const stack = new Stack(new App(), 'S');
    const td = new ecs.FargateTaskDefinition(stack, 'Task');
    const image = ecs.ContainerImage.fromRegistry('x');
    const app = td.addContainer('app', { image, containerName: 'app' });
    td.addContainer('job', { image, containerName: 'job', essential: false });
    new TernSidecar(stack, 'Tern', { taskDefinition: td, image, config: TernConfig.fromFile('/etc/tern/config.yaml'), dependents: [app] });
    const c = containers(Template.fromStack(stack));
    expect(c.app.DependsOn).toEqual([{ ContainerName: 'tern', Condition: 'HEALTHY' }]);
    expect(c.job.DependsOn).toBeUndefined();
    expect(c.tern.Command).toEqual(['--config', '/etc/tern/config.yaml']);
    expect(c.tern.Secrets).toBeUndefined();
  });

  test('execution role reads only the config parameter, with ssm:GetParameters', () => {
    const { stack, td, parameter } = setup();
    const t = Template.fromStack(stack);
    const execId = stack.getLogicalId(td.executionRole!.node.defaultChild as any);
    const ssmGrants = grants(statementsOfRole(t, execId)).filter(g => g.startsWith('ssm:') || g.startsWith('kms:'));
    expect(ssmGrants).toEqual([`ssm:GetParameters ${JSON.stringify(stack.resolve(parameter.parameterArn))}`]);
  });

  test('a customer managed key adds kms:Decrypt on that key only', () => {
    const { stack, td, key } = setup({ key: true });
    const t = Template.fromStack(stack);
    const execId = stack.getLogicalId(td.executionRole!.node.defaultChild as any);
    const kmsGrants = grants(statementsOfRole(t, execId)).filter(g => g.startsWith('kms:'));
    expect(kmsGrants).toEqual([`kms:Decrypt ${JSON.stringify(stack.resolve(key!.keyArn))}`]);
  });

  test('task role gets exactly the exporters\' permissions', () => {
    const { stack, td } = setup();
    const t = Template.fromStack(stack);
    const taskId = stack.getLogicalId(td.taskRole.node.defaultChild as any);
    expect(grants(statementsOfRole(t, taskId))).toEqual([`aps:RemoteWrite ${WS}`, 'xray:PutTraceSegments *']);
  });

  test('OTLP port mappings on request; inline config refused; one tern per task', () => {
    const stack = new Stack(new App(), 'S');
    const td = new ecs.FargateTaskDefinition(stack, 'Task');
    const image = ecs.ContainerImage.fromRegistry('x');
    new TernSidecar(stack, 'Tern', { taskDefinition: td, image, config: TernConfig.fromFile('/c.yaml'), otlpPortMappings: true });
    expect(containers(Template.fromStack(stack)).tern.PortMappings.map((p: any) => p.ContainerPort)).toEqual([4317, 4318]);
    expect(() => new TernSidecar(stack, 'Tern2', { taskDefinition: td, image, config: TernConfig.fromFile('/c.yaml') }))
      .toThrow(/already has a "tern" container/);
    const td2 = new ecs.FargateTaskDefinition(stack, 'Task2');
    expect(() => new TernSidecar(stack, 'Tern3', { taskDefinition: td2, image, config: TernConfig.fromInline('a: 1') }))
      .toThrow(/fromParameter or TernConfig.fromFile/);
  });
});

describe('deploy/ecs/task-definition.json is in sync with TernSidecar', () => {
  const json = JSON.parse(fs.readFileSync(path.join(REPO, 'deploy', 'ecs', 'task-definition.json'), 'utf8'));
  const { stack } = setup();
  const synth = containers(Template.fromStack(stack));
  const tern = json.containerDefinitions.find((c: any) => c.name === 'tern');

  test.each([
    ['essential', 'Essential'], ['cpu', 'Cpu'], ['memory', 'Memory'], ['memoryReservation', 'MemoryReservation'],
    ['user', 'User'], ['readonlyRootFilesystem', 'ReadonlyRootFilesystem'], ['stopTimeout', 'StopTimeout'],
    ['command', 'Command'], ['portMappings', 'PortMappings'], ['environment', 'Environment'],
  ])('%s', (jsonKey, cfnKey) => {
    expect(tern[jsonKey]).toEqual(synth.tern[cfnKey]);
  });

  test('healthCheck', () => {
    const hc = synth.tern.HealthCheck;
    expect(tern.healthCheck).toEqual({
      command: hc.Command, interval: hc.Interval, timeout: hc.Timeout, retries: hc.Retries, startPeriod: hc.StartPeriod,
    });
  });

  test('secrets carry the config', () => {
    expect(tern.secrets.map((s: any) => s.name)).toEqual(synth.tern.Secrets.map((s: any) => s.Name));
    expect(tern.secrets[0].valueFrom).toMatch(/^arn:aws:ssm:<region>:<account-id>:parameter\//);
  });

  test('logging', () => {
    expect(tern.logConfiguration.logDriver).toBe(synth.tern.LogConfiguration.LogDriver);
    expect(tern.logConfiguration.options['awslogs-stream-prefix']).toBe(synth.tern.LogConfiguration.Options['awslogs-stream-prefix']);
    expect(Object.keys(tern.logConfiguration.options).sort()).toEqual(Object.keys(synth.tern.LogConfiguration.Options).sort());
  });

  test('every other container depends on tern HEALTHY', () => {
    const others = json.containerDefinitions.filter((c: any) => c.name !== 'tern');
    expect(others.length).toBeGreaterThan(0);
    for (const c of others) {
      expect(c.dependsOn).toEqual([{ containerName: 'tern', condition: synth.before.DependsOn[0].Condition }]);
    }
  });

  test('Fargate, awsvpc, roles', () => {
    expect(json.requiresCompatibilities).toEqual(['FARGATE']);
    expect(json.networkMode).toBe('awsvpc');
    expect(json.executionRoleArn).toBeDefined();
    expect(json.taskRoleArn).toBeDefined();
  });
});
