// TernLambdaExtension.addTo: attach the layer matching a function's architecture.
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TernExporters, TernPermissions } from './exporters';
import { archSuffix, ITernLayer } from './layer';

/**
 * The Tern layers available, at most one per architecture.
 */
export interface TernLayers {
  /**
   * The x86_64 layer.
   *
   * @default - x86_64 functions are refused
   */
  readonly x86_64?: ITernLayer;

  /**
   * The arm64 layer.
   *
   * @default - arm64 functions are refused
   */
  readonly arm64?: ITernLayer;
}

/**
 * Options of `TernLambdaExtension.addTo`.
 */
export interface TernLambdaExtensionProps {
  /** The layers to pick from. */
  readonly layers: TernLayers;

  /**
   * The value of `OPENTELEMETRY_COLLECTOR_CONFIG_URI`: a path in the function package, a
   * `file:` URI, an `https://` URL or an `s3://bucket/key` URI.
   *
   * @default '/var/task/collector.yaml'
   */
  readonly configPath?: string;

  /**
   * The exporters the config uses; the function's role is granted what they need.
   *
   * @default - no exporter permissions
   */
  readonly exporters?: TernExporters;
}

/**
 * Adds the Tern extension to Lambda functions.
 */
export class TernLambdaExtension {
  /** The default `OPENTELEMETRY_COLLECTOR_CONFIG_URI`. */
  public static readonly DEFAULT_CONFIG_PATH = '/var/task/collector.yaml';

  /**
   * Adds the layer of `fn.architecture` to `fn`, sets `OPENTELEMETRY_COLLECTOR_CONFIG_URI` and
   * grants the exporters' permissions to the function's role.
   *
   * Throws when no layer of the function's architecture is given, or when a layer is given
   * under the wrong architecture (a wrong binary fails at init with `exec format error`).
   *
   * @returns the layer that was added
   */
  public static addTo(fn: lambda.Function, props: TernLambdaExtensionProps): ITernLayer {
    for (const [slot, layer] of [['x86_64', props.layers.x86_64], ['arm64', props.layers.arm64]] as const) {
      if (layer && archSuffix(layer.architecture) !== slot) {
        throw new Error(`The Tern layer given as ${slot} is built for ${layer.architecture.name}`);
      }
    }
    const arch = archSuffix(fn.architecture);
    const layer = arch === 'x86_64' ? props.layers.x86_64 : props.layers.arm64;
    if (!layer) {
      throw new Error(`Function ${fn.node.path} runs on ${arch} but no ${arch} Tern layer was given `
        + '(the other architecture\'s binary would fail with "exec format error")');
    }
    fn.addLayers(layer.layerVersion);
    fn.addEnvironment('OPENTELEMETRY_COLLECTOR_CONFIG_URI', props.configPath ?? TernLambdaExtension.DEFAULT_CONFIG_PATH);
    if (props.exporters) {
      if (!fn.role) {
        throw new Error(`Function ${fn.node.path} has no role to grant the exporters' permissions to`);
      }
      const policy = TernPermissions.grantExporters(fn, props.exporters);
      if (policy) {
        // The function must not start exporting before its X-Ray permission exists.
        // (On the CfnFunction: the role and its policy are children of the function.)
        (fn.node.defaultChild ?? fn).node.addDependency(policy);
      }
    }
    return layer;
  }

  private constructor() {}
}
