// Where a Tern config comes from: an SSM parameter, a file in the image, or inline YAML.
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as ssm from 'aws-cdk-lib/aws-ssm';

/**
 * How a Tern config is delivered.
 */
export enum TernConfigSource {
  /** An SSM parameter (String or SecureString) holding the YAML. */
  PARAMETER = 'parameter',
  /** A file already present where Tern runs (baked into a derived image). */
  FILE = 'file',
  /** YAML given in the CDK app (EC2 user data writes it to `/etc/tern/config.yaml`). */
  INLINE = 'inline',
}

/**
 * A Tern config. Create one with a static factory.
 */
export abstract class TernConfig {
  /**
   * The config is the value of an SSM parameter. On ECS it reaches Tern as the container
   * secret `TERN_CONFIG` (`--config env:TERN_CONFIG`); on EC2 user data fetches it with
   * `aws ssm get-parameter --with-decryption`.
   *
   * @param parameter the parameter (String or SecureString)
   * @param encryptionKey the customer managed key of a SecureString parameter; grants
   *   `kms:Decrypt` on it. @default - the parameter's own `encryptionKey`, else none (AWS managed key)
   */
  public static fromParameter(parameter: ssm.IParameter, encryptionKey?: kms.IKey): TernConfig {
    const key = encryptionKey ?? (parameter as { encryptionKey?: kms.IKey }).encryptionKey;
    return new ParameterConfig(parameter, key);
  }

  /**
   * The config is a file already present where Tern runs, e.g. baked into a derived image.
   *
   * @param path absolute path of the file inside the container or host
   */
  public static fromFile(path: string): TernConfig {
    if (!path.startsWith('/')) {
      throw new Error(`TernConfig.fromFile needs an absolute path, got "${path}"`);
    }
    return new FileConfig(path);
  }

  /**
   * The config is YAML given here (EC2 only: written to the instance by user data; it ends up
   * readable by the `tern` group only, but it is visible in the launch configuration's user
   * data: put no secrets in it).
   */
  public static fromInline(yaml: string): TernConfig {
    if (yaml.trim() === '') {
      throw new Error('TernConfig.fromInline needs a non-empty YAML document');
    }
    return new InlineConfig(yaml);
  }

  /** How the config is delivered. */
  public abstract readonly source: TernConfigSource;

  /** The SSM parameter, for `PARAMETER`. */
  public abstract readonly parameter?: ssm.IParameter;

  /** The KMS key of the SSM parameter, for `PARAMETER` with a customer managed key. */
  public abstract readonly encryptionKey?: kms.IKey;

  /** The file path, for `FILE`. */
  public abstract readonly path?: string;

  /** The YAML text, for `INLINE`. */
  public abstract readonly yaml?: string;

  /**
   * Grants reading the config: `actions` on the parameter ARN and `kms:Decrypt` on its key.
   * Nothing for file and inline configs.
   *
   * @param grantee who reads it
   * @param actions the SSM read actions: `ssm:GetParameters` for ECS (what the container agent
   *   calls), `ssm:GetParameter` for the AWS CLI on EC2
   */
  public grantRead(grantee: iam.IGrantable, actions: string[]): void {
    if (!this.parameter) {
      return;
    }
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'TernConfigRead',
      actions,
      resources: [this.parameter.parameterArn],
    }));
    if (this.encryptionKey) {
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'TernConfigDecrypt',
        actions: ['kms:Decrypt'],
        resources: [this.encryptionKey.keyArn],
      }));
    }
  }
}

class ParameterConfig extends TernConfig {
  public readonly source = TernConfigSource.PARAMETER;
  public readonly path = undefined;
  public readonly yaml = undefined;
  constructor(public readonly parameter: ssm.IParameter, public readonly encryptionKey?: kms.IKey) {
    super();
  }
}

class FileConfig extends TernConfig {
  public readonly source = TernConfigSource.FILE;
  public readonly parameter = undefined;
  public readonly encryptionKey = undefined;
  public readonly yaml = undefined;
  constructor(public readonly path: string) {
    super();
  }
}

class InlineConfig extends TernConfig {
  public readonly source = TernConfigSource.INLINE;
  public readonly parameter = undefined;
  public readonly encryptionKey = undefined;
  public readonly path = undefined;
  constructor(public readonly yaml: string) {
    super();
  }
}
