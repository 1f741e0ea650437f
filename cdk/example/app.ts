// Example app: a Lambda function with the Tern layer, a Fargate service with an app container
// and the Tern sidecar, an EC2 instance with the Tern agent. Synthesizes without AWS
// credentials (environment-agnostic stacks: account, region and AZs are resolved at deploy
// time; no lookups):
//   npx ts-node example/app.ts [outdir]
// Assets: dist/tern-layer-{x86_64,arm64}.zip and target/release/tern when built, else small
// stand-ins written to a temporary directory (synth only hashes them).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  TernBinary, TernConfig, TernEc2Agent, TernExporters, TernLambdaExtension, TernLayer, TernPermissions, TernSidecar,
} from '../lib';
import { ternRepoRoot } from '../lib/paths';

export const EXAMPLE_AMP_WORKSPACE_ARN = 'arn:aws:aps:us-east-1:123456789012:workspace/ws-0123456789abcdef';

export interface ExampleAssets {
  readonly layerX86Zip: string;
  readonly layerArm64Zip: string;
  readonly binary: string;
}

/** Real build outputs when present, else stand-ins in a temporary directory. */
export function exampleAssets(): ExampleAssets {
  const root = ternRepoRoot();
  const real = {
    layerX86Zip: path.join(root, 'dist', 'tern-layer-x86_64.zip'),
    layerArm64Zip: path.join(root, 'dist', 'tern-layer-arm64.zip'),
    binary: path.join(root, 'target', 'release', 'tern'),
  };
  let dir = '';
  const standIn = (name: string, realPath: string): string => {
    if (fs.existsSync(realPath)) {
      return realPath;
    }
    if (!dir) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-example-assets-'));
      const created = dir;
      process.on('exit', () => fs.rmSync(created, { recursive: true, force: true }));
    }
    // A directory asset holding extensions/tern (for layers) or an ELF-headed file (binary).
    if (name.startsWith('layer')) {
      const d = path.join(dir, name);
      fs.mkdirSync(path.join(d, 'extensions'), { recursive: true });
      fs.writeFileSync(path.join(d, 'extensions', 'tern'), `#!/bin/sh\n# stand-in for ${name}\n`, { mode: 0o755 });
      return d;
    }
    const f = path.join(dir, name);
    fs.writeFileSync(f, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.from(' stand-in tern binary\n')]), { mode: 0o755 });
    return f;
  };
  return {
    layerX86Zip: standIn('layer-x86_64', real.layerX86Zip),
    layerArm64Zip: standIn('layer-arm64', real.layerArm64Zip),
    binary: standIn('tern', real.binary),
  };
}

const exporters: TernExporters = { xray: true, amp: { workspaceArn: EXAMPLE_AMP_WORKSPACE_ARN } };

/** A VPC with flow logs and no inbound access. */
function exampleVpc(scope: Construct): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', { maxAzs: 2, natGateways: 1 });
  vpc.addFlowLog('FlowLogs', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(scope, 'FlowLogGroup', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    })),
  });
  return vpc;
}

export class LambdaExampleStack extends Stack {
  constructor(scope: Construct, id: string, assets: ExampleAssets, props?: StackProps) {
    super(scope, id, props);
    const x86 = new TernLayer(this, 'TernX86', {
      architecture: lambda.Architecture.X86_64, code: lambda.Code.fromAsset(assets.layerX86Zip),
    });
    const arm = new TernLayer(this, 'TernArm64', {
      architecture: lambda.Architecture.ARM_64, code: lambda.Code.fromAsset(assets.layerArm64Zip),
    });
    // An explicit role with only what the function and Tern need (no managed policies).
    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'FunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(path.join(__dirname, 'function')),
      memorySize: 256,
      timeout: Duration.seconds(15),
      role,
      logGroup,
    });
    TernLambdaExtension.addTo(fn, { layers: { x86_64: x86, arm64: arm }, exporters });
    new CfnOutput(this, 'TernLayerX86Arn', { value: x86.layerVersionArn });
    new CfnOutput(this, 'TernLayerArm64Arn', { value: arm.layerVersionArn });
  }
}

export class EcsExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = exampleVpc(this);
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
    const appLogs = new logs.LogGroup(this, 'AppLogs', {
      retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
    });
    // The app's OpenTelemetry SDK exports to localhost:4318 by default: no environment needed.
    taskDefinition.addContainer('app', {
      containerName: 'app',
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/nginx:stable'),
      essential: true,
      portMappings: [{ containerPort: 8080 }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: appLogs, streamPrefix: 'app' }),
    });
    const configYaml = fs.readFileSync(path.join(ternRepoRoot(), 'deploy', 'ecs', 'config.yaml'), 'utf8')
      .replace(/https:\/\/aps-workspaces\S+remote_write/, TernPermissions.ampRemoteWriteUrl(this, EXAMPLE_AMP_WORKSPACE_ARN));
    const parameter = new ssm.StringParameter(this, 'TernConfig', {
      parameterName: '/tern/example/config',
      stringValue: configYaml,
      description: 'Tern sidecar config (deploy/ecs/config.yaml)',
    });
    const sidecar = new TernSidecar(this, 'Tern', {
      taskDefinition,
      image: ecs.ContainerImage.fromRegistry(this.node.tryGetContext('ternImage') ?? 'public.ecr.aws/example/tern:0.1.0'),
      config: TernConfig.fromParameter(parameter),
      exporters,
    });
    const service = new ecs.FargateService(this, 'Service', { cluster, taskDefinition, desiredCount: 1 });
    new CfnOutput(this, 'TaskDefinitionArn', { value: taskDefinition.taskDefinitionArn });
    new CfnOutput(this, 'TernLogGroup', { value: sidecar.logGroup.logGroupName });
    new CfnOutput(this, 'ServiceName', { value: service.serviceName });
  }
}

export class Ec2ExampleStack extends Stack {
  constructor(scope: Construct, id: string, assets: ExampleAssets, props?: StackProps) {
    super(scope, id, props);
    const vpc = exampleVpc(this);
    const instance = new ec2.Instance(this, 'Instance', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.MICRO),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      requireImdsv2: true,
      detailedMonitoring: true,
      disableApiTermination: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true }) }],
    });
    const configYaml = fs.readFileSync(path.join(ternRepoRoot(), 'deploy', 'ec2', 'config.yaml'), 'utf8')
      .replace('${env:AMP_REMOTE_WRITE_ENDPOINT}', TernPermissions.ampRemoteWriteUrl(this, EXAMPLE_AMP_WORKSPACE_ARN));
    new TernEc2Agent(this, 'Tern', {
      instance,
      binary: TernBinary.fromAsset(assets.binary),
      config: TernConfig.fromInline(configYaml),
      exporters,
    });
    new CfnOutput(this, 'InstanceId', { value: instance.instanceId });
  }
}

/** The example app: one stack per target. */
export function buildExampleApp(outdir?: string, assets: ExampleAssets = exampleAssets(), context?: Record<string, unknown>): App {
  const app = new App({ outdir, context });
  new LambdaExampleStack(app, 'TernLambdaExample', assets);
  new EcsExampleStack(app, 'TernEcsExample');
  new Ec2ExampleStack(app, 'TernEc2Example', assets);
  return app;
}

if (require.main === module) {
  const app = buildExampleApp(process.argv[2] ?? 'cdk.out');
  const assembly = app.synth();
  console.log(`synthesized ${assembly.stacks.map(s => s.stackName).join(', ')} into ${assembly.directory}`);
}
