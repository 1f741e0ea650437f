// TernSidecar: the `tern` container of an ECS task definition (Fargate or EC2 launch type).
import { Aspects, Duration, IAspect } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { TernConfig, TernConfigSource } from './config';
import { TernExporters, TernPermissions } from './exporters';

/**
 * The container health check of the sidecar.
 */
export interface TernSidecarHealthCheck {
  /** @default Duration.seconds(10) */
  readonly interval?: Duration;
  /** @default Duration.seconds(3) */
  readonly timeout?: Duration;
  /** @default 3 */
  readonly retries?: number;
  /** @default Duration.seconds(10) */
  readonly startPeriod?: Duration;
}

/**
 * Properties of a `TernSidecar`.
 */
export interface TernSidecarProps {
  /** The task definition to add the `tern` container to. */
  readonly taskDefinition: ecs.TaskDefinition;

  /** The Tern image (its entrypoint is `/tern`). */
  readonly image: ecs.ContainerImage;

  /**
   * The config: `TernConfig.fromParameter(p)` (passed as the secret `TERN_CONFIG`, read with
   * `--config env:TERN_CONFIG`) or `TernConfig.fromFile(path)` (baked into the image).
   */
  readonly config: TernConfig;

  /**
   * The exporters the config uses; the task role is granted what they need.
   *
   * @default - no exporter permissions
   */
  readonly exporters?: TernExporters;

  /**
   * Containers that start after Tern is HEALTHY (and, as ECS reverses dependencies, stop
   * before it, so Tern drains last).
   *
   * @default - every other container of the task definition, including ones added later
   */
  readonly dependents?: ecs.ContainerDefinition[];

  /** @default 128 */
  readonly cpu?: number;
  /** @default 64 */
  readonly memoryReservationMiB?: number;
  /** @default 256 */
  readonly memoryLimitMiB?: number;

  /**
   * Log group of the `awslogs` driver (stream prefix `tern`).
   *
   * @default - a new log group kept for one month
   */
  readonly logGroup?: logs.ILogGroup;

  /** @default - interval 10 s, timeout 3 s, 3 retries, start period 10 s */
  readonly healthCheck?: TernSidecarHealthCheck;

  /**
   * Time ECS gives Tern between SIGTERM and SIGKILL; keep it above Tern's
   * `--shutdown-timeout` (25 s).
   *
   * @default Duration.seconds(30)
   */
  readonly stopTimeout?: Duration;

  /** @default true */
  readonly readonlyRootFilesystem?: boolean;

  /** @default true */
  readonly essential?: boolean;

  /**
   * Map the OTLP ports 4317 and 4318, for tasks that send to this one from elsewhere. In
   * `awsvpc` mode the task's containers reach Tern on localhost without mappings.
   *
   * @default false
   */
  readonly otlpPortMappings?: boolean;
}

/** The container name; apps send OTLP to `localhost:4317`/`4318` in awsvpc mode. */
const CONTAINER_NAME = 'tern';

/**
 * Adds the `tern` sidecar container to an ECS task definition.
 */
export class TernSidecar extends Construct {
  /** The name of the container. */
  public static readonly CONTAINER_NAME = CONTAINER_NAME;

  /** The numeric non-root user the container runs as. */
  public static readonly USER = '10001:10001';

  /** The health check command; exec form, no shell in the image. */
  public static readonly HEALTH_CHECK_COMMAND: string[] = [
    'CMD', '/tern', 'healthcheck', '--url', 'http://127.0.0.1:13133/',
  ];

  /** The name of the container secret holding the config (`--config env:TERN_CONFIG`). */
  public static readonly CONFIG_SECRET_NAME = 'TERN_CONFIG';

  /** The `tern` container. */
  public readonly container: ecs.ContainerDefinition;

  /** The log group of the container. */
  public readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: TernSidecarProps) {
    super(scope, id);
    const td = props.taskDefinition;
    if (td.node.tryFindChild(CONTAINER_NAME) || td.findContainer(CONTAINER_NAME)) {
      throw new Error(`Task definition ${td.node.path} already has a "${CONTAINER_NAME}" container`);
    }

    let command: string[];
    const secrets: Record<string, ecs.Secret> = {};
    switch (props.config.source) {
      case TernConfigSource.PARAMETER:
        command = ['--config', `env:${TernSidecar.CONFIG_SECRET_NAME}`];
        secrets[TernSidecar.CONFIG_SECRET_NAME] = new ParameterSecret(props.config);
        break;
      case TernConfigSource.FILE:
        command = ['--config', props.config.path!];
        break;
      default:
        throw new Error('TernSidecar takes TernConfig.fromParameter or TernConfig.fromFile '
          + '(ECS has no way to pass inline YAML except as a plain environment variable)');
    }

    this.logGroup = props.logGroup ?? new logs.LogGroup(this, 'LogGroup', {
      retention: logs.RetentionDays.ONE_MONTH,
    });

    const hc = props.healthCheck ?? {};
    // The construct id equals the container name so that td.findContainer-style lookups work.
    this.container = td.addContainer(CONTAINER_NAME, {
      containerName: CONTAINER_NAME,
      image: props.image,
      essential: props.essential ?? true,
      cpu: props.cpu ?? 128,
      memoryReservationMiB: props.memoryReservationMiB ?? 64,
      memoryLimitMiB: props.memoryLimitMiB ?? 256,
      user: TernSidecar.USER,
      readonlyRootFilesystem: props.readonlyRootFilesystem ?? true,
      stopTimeout: props.stopTimeout ?? Duration.seconds(30),
      command,
      secrets,
      healthCheck: {
        command: TernSidecar.HEALTH_CHECK_COMMAND,
        interval: hc.interval ?? Duration.seconds(10),
        timeout: hc.timeout ?? Duration.seconds(3),
        retries: hc.retries ?? 3,
        startPeriod: hc.startPeriod ?? Duration.seconds(10),
      },
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: CONTAINER_NAME }),
      portMappings: props.otlpPortMappings
        ? [
          { containerPort: 4317, protocol: ecs.Protocol.TCP, name: 'otlp-grpc' },
          { containerPort: 4318, protocol: ecs.Protocol.TCP, name: 'otlp-http' },
        ]
        : undefined,
    });

    if (props.dependents) {
      for (const c of props.dependents) {
        addHealthyDependency(c, this.container);
      }
    } else {
      // Containers may be added after the sidecar: wire them up just before synthesis.
      Aspects.of(td).add(new DependOnTern(td, this.container));
    }

    if (props.exporters) {
      TernPermissions.grantExporters(td.taskRole, props.exporters);
    }
  }
}

/** An ECS secret from the config's SSM parameter granting only `ssm:GetParameters` (+ decrypt). */
class ParameterSecret extends ecs.Secret {
  public readonly arn: string;
  public readonly hasField = false;
  constructor(private readonly config: TernConfig) {
    super();
    this.arn = config.parameter!.parameterArn;
  }
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    this.config.grantRead(grantee, ['ssm:GetParameters']);
    return iam.Grant.drop(grantee, 'granted by TernConfig.grantRead');
  }
}

function addHealthyDependency(container: ecs.ContainerDefinition, tern: ecs.ContainerDefinition): void {
  if (container === tern) {
    return;
  }
  const already = container.containerDependencies.some(d => d.container === tern);
  if (!already) {
    container.addContainerDependencies({ container: tern, condition: ecs.ContainerDependencyCondition.HEALTHY });
  }
}

class DependOnTern implements IAspect {
  constructor(private readonly td: ecs.TaskDefinition, private readonly tern: ecs.ContainerDefinition) {}
  public visit(node: IConstruct): void {
    if (node instanceof ecs.ContainerDefinition && node.taskDefinition === this.td) {
      addHealthyDependency(node, this.tern);
    }
  }
}
