// TernLayer: the Lambda layer built by extension/package.sh, one architecture per layer.
import * as path from 'path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';
import { ternRepoRoot } from './paths';

/**
 * A Tern layer version of one architecture.
 */
export interface ITernLayer extends IConstruct {
  /** The layer version. */
  readonly layerVersion: lambda.ILayerVersion;
  /** Its ARN. */
  readonly layerVersionArn: string;
  /** The only architecture its binary runs on. */
  readonly architecture: lambda.Architecture;
}

/**
 * Properties of a `TernLayer`.
 */
export interface TernLayerProps {
  /** The architecture of the binary in the zip; the layer lists exactly this one. */
  readonly architecture: lambda.Architecture;

  /**
   * The layer content.
   *
   * @default - `Code.fromAsset('<repo>/dist/tern-layer-<x86_64|arm64>.zip')`, the zip that
   *   `extension/package.sh [arm64]` writes
   */
  readonly code?: lambda.Code;

  /**
   * Name of the layer.
   *
   * @default `tern-<x86_64|arm64>`
   */
  readonly layerVersionName?: string;

  /**
   * Runtimes the layer lists. The binary needs glibc 2.34 or newer.
   *
   * @default TernLayer.AL2023_RUNTIMES (the Amazon Linux 2023 runtimes of `template.yaml`)
   */
  readonly compatibleRuntimes?: lambda.Runtime[];

  /**
   * SPDX licence of the layer.
   *
   * @default 'Apache-2.0'
   */
  readonly license?: string;

  /**
   * What happens to old layer versions when they are replaced or the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN (functions still using a version keep working)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Tern Lambda extension layer (`extensions/tern`) for one architecture. Create one per
 * architecture you deploy; `TernLambdaExtension.addTo` picks the one matching the function.
 */
export class TernLayer extends Construct implements ITernLayer {
  /**
   * The Amazon Linux 2023 runtimes (glibc 2.34+), as listed in `template.yaml`.
   */
  public static readonly AL2023_RUNTIMES: lambda.Runtime[] = [
    lambda.Runtime.PYTHON_3_12,
    lambda.Runtime.PYTHON_3_13,
    lambda.Runtime.NODEJS_20_X,
    lambda.Runtime.NODEJS_22_X,
    lambda.Runtime.JAVA_21,
    lambda.Runtime.PROVIDED_AL2023,
  ];

  /**
   * The zip `extension/package.sh` writes for an architecture: `<repo>/dist/tern-layer-<arch>.zip`.
   */
  public static defaultZipPath(architecture: lambda.Architecture): string {
    return path.join(ternRepoRoot(), 'dist', `tern-layer-${archSuffix(architecture)}.zip`);
  }

  /**
   * An existing Tern layer version (e.g. published with SAM), with the architecture it was
   * built for.
   */
  public static fromLayerVersionArn(scope: Construct, id: string, layerVersionArn: string,
    architecture: lambda.Architecture): ITernLayer {
    return new ImportedTernLayer(scope, id, layerVersionArn, architecture);
  }

  public readonly layerVersion: lambda.ILayerVersion;
  public readonly layerVersionArn: string;
  public readonly architecture: lambda.Architecture;

  constructor(scope: Construct, id: string, props: TernLayerProps) {
    super(scope, id);
    const suffix = archSuffix(props.architecture);
    this.architecture = props.architecture;
    const layer = new lambda.LayerVersion(this, 'Layer', {
      code: props.code ?? lambda.Code.fromAsset(TernLayer.defaultZipPath(props.architecture)),
      layerVersionName: props.layerVersionName ?? `tern-${suffix}`,
      description: `Tern OpenTelemetry collector extension (extensions/tern), ${suffix}`,
      compatibleArchitectures: [props.architecture],
      compatibleRuntimes: props.compatibleRuntimes ?? TernLayer.AL2023_RUNTIMES,
      license: props.license ?? 'Apache-2.0',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.layerVersion = layer;
    this.layerVersionArn = layer.layerVersionArn;
  }
}

class ImportedTernLayer extends Construct implements ITernLayer {
  public readonly layerVersion: lambda.ILayerVersion;
  public readonly layerVersionArn: string;
  constructor(scope: Construct, id: string, arn: string, public readonly architecture: lambda.Architecture) {
    super(scope, id);
    archSuffix(architecture);
    this.layerVersion = lambda.LayerVersion.fromLayerVersionAttributes(this, 'Layer', {
      layerVersionArn: arn,
      compatibleRuntimes: TernLayer.AL2023_RUNTIMES,
    });
    this.layerVersionArn = arn;
  }
}

/** `x86_64` or `arm64`; throws for anything else. */
export function archSuffix(architecture: lambda.Architecture): string {
  if (architecture.name === lambda.Architecture.X86_64.name) {
    return 'x86_64';
  }
  if (architecture.name === lambda.Architecture.ARM_64.name) {
    return 'arm64';
  }
  throw new Error(`Tern layers exist for x86_64 and arm64 only, not ${architecture.name}`);
}
