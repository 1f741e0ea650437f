// TernEc2Agent: user data that installs Tern as a systemd service on an instance or an ASG.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { TernConfig, TernConfigSource } from './config';
import { TernExporters, TernPermissions } from './exporters';
import { ternRepoRoot } from './paths';

/**
 * Where the EC2 agent gets the `tern` binary. Create one with a static factory.
 */
export abstract class TernBinary {
  /**
   * A binary on the machine running the CDK app (e.g. `target/release/tern`), uploaded as an
   * S3 asset. Its SHA-256 is computed at synthesis and checked by `install.sh` on the instance.
   */
  public static fromAsset(binaryPath: string): TernBinary {
    if (!fs.existsSync(binaryPath) || !fs.statSync(binaryPath).isFile()) {
      throw new Error(`Tern binary not found: ${binaryPath}`);
    }
    return new AssetBinary(path.resolve(binaryPath));
  }

  /**
   * A binary downloaded by the instance from an HTTPS URL and checked against `sha256`.
   */
  public static fromUrl(url: string, sha256: string): TernBinary {
    if (!url.startsWith('https://')) {
      throw new Error(`TernBinary.fromUrl needs an https:// URL, got "${url}"`);
    }
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
      throw new Error('TernBinary.fromUrl needs the SHA-256 as 64 lower-case hex digits');
    }
    return new UrlBinary(url, sha256);
  }

  /** The SHA-256 of the binary, hex. */
  public abstract readonly sha256: string;

  /** @internal */
  public abstract _fetchCommands(scope: Construct, role: iam.IGrantable, localFile: string): string[];
}

class AssetBinary extends TernBinary {
  public readonly sha256: string;
  constructor(private readonly file: string) {
    super();
    this.sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  }
  public _fetchCommands(scope: Construct, role: iam.IGrantable, localFile: string): string[] {
    return s3Fetch(scope, 'Binary', this.file, role, localFile);
  }
}

class UrlBinary extends TernBinary {
  constructor(private readonly url: string, public readonly sha256: string) {
    super();
  }
  public _fetchCommands(_scope: Construct, _role: iam.IGrantable, localFile: string): string[] {
    return [`curl -fsSL --proto '=https' -o ${localFile} '${this.url}'`];
  }
}

/** Uploads `file` as an asset; grants `s3:GetObject` on that one object only. */
function s3Fetch(scope: Construct, id: string, file: string, role: iam.IGrantable, localFile: string): string[] {
  const asset = new s3assets.Asset(scope, id, { path: file });
  // asset.grantRead would add bucket-wide List/GetBucket* wildcards; one object is enough.
  role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:GetObject'],
    resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)],
  }));
  return [`aws s3 cp --only-show-errors --region ${Stack.of(scope).region} `
    + `s3://${asset.s3BucketName}/${asset.s3ObjectKey} ${localFile}`];
}

/**
 * Properties of a `TernEc2Agent`. Give exactly one of `instance` and `autoScalingGroup`.
 */
export interface TernEc2AgentProps {
  /**
   * The instance to install Tern on.
   *
   * @default - none: `autoScalingGroup` must be set
   */
  readonly instance?: ec2.Instance;

  /**
   * The auto-scaling group whose instances get Tern.
   *
   * @default - none: `instance` must be set
   */
  readonly autoScalingGroup?: autoscaling.AutoScalingGroup;

  /** The binary to install. */
  readonly binary: TernBinary;

  /**
   * The config: `TernConfig.fromParameter(p)` (fetched at boot with
   * `aws ssm get-parameter --with-decryption`) or `TernConfig.fromInline(yaml)`.
   */
  readonly config: TernConfig;

  /**
   * The exporters the config uses; the instance role is granted what they need.
   *
   * @default - no exporter permissions
   */
  readonly exporters?: TernExporters;

  /**
   * The install script uploaded as an asset.
   *
   * @default - `deploy/install.sh` of the Tern repository
   */
  readonly installScript?: string;

  /**
   * The systemd unit template uploaded as an asset (`install.sh --unit`).
   *
   * @default - `deploy/systemd/tern.service` of the Tern repository
   */
  readonly unitFile?: string;

  /**
   * Extra arguments for `install.sh` (e.g. `['--prefix', '/opt/tern']`).
   *
   * @default - none
   */
  readonly installArgs?: string[];
}

/** Working directory of the user data on the instance. */
const WORK_DIR = '/run/tern-install';

/**
 * Installs Tern on an EC2 instance or the instances of an auto-scaling group at boot:
 * user data fetches the binary, the config and `install.sh`, which checks the binary's
 * SHA-256, creates the `tern` user, installs the systemd unit, validates the config and
 * starts the service. The instance role gets exactly the permissions this needs.
 */
export class TernEc2Agent extends Construct {
  /** The default install script, `deploy/install.sh` of the repository. */
  public static defaultInstallScript(): string {
    return path.join(ternRepoRoot(), 'deploy', 'install.sh');
  }

  /** The default unit template, `deploy/systemd/tern.service` of the repository. */
  public static defaultUnitFile(): string {
    return path.join(ternRepoRoot(), 'deploy', 'systemd', 'tern.service');
  }

  /** The SHA-256 of the installed binary. */
  public readonly binarySha256: string;

  constructor(scope: Construct, id: string, props: TernEc2AgentProps) {
    super(scope, id);
    if ((props.instance === undefined) === (props.autoScalingGroup === undefined)) {
      throw new Error('TernEc2Agent needs exactly one of instance and autoScalingGroup');
    }
    const userData = props.instance ? props.instance.userData : props.autoScalingGroup!.userData;
    const role: iam.IRole = props.instance ? props.instance.role : props.autoScalingGroup!.role;
    this.binarySha256 = props.binary.sha256;

    const scriptPath = props.installScript ?? TernEc2Agent.defaultInstallScript();
    const unitPath = props.unitFile ?? TernEc2Agent.defaultUnitFile();
    for (const f of [scriptPath, unitPath]) {
      if (!fs.existsSync(f)) {
        throw new Error(`Tern install file not found: ${f}`);
      }
    }

    const configFile = `${WORK_DIR}/config.yaml`;
    const commands: string[] = [
      'set -eu',
      `mkdir -p -m 0700 ${WORK_DIR}`,
      ...s3Fetch(this, 'InstallScript', scriptPath, role, `${WORK_DIR}/install.sh`),
      ...s3Fetch(this, 'Unit', unitPath, role, `${WORK_DIR}/tern.service`),
      ...props.binary._fetchCommands(this, role, `${WORK_DIR}/tern`),
    ];
    switch (props.config.source) {
      case TernConfigSource.PARAMETER:
        props.config.grantRead(role, ['ssm:GetParameter']);
        commands.push(`aws ssm get-parameter --region ${Stack.of(this).region} --with-decryption `
          + `--name ${props.config.parameter!.parameterName} --query Parameter.Value --output text > ${configFile}`);
        break;
      case TernConfigSource.INLINE: {
        const yaml = props.config.yaml!;
        const marker = 'TERN_CONFIG_EOF';
        if (yaml.split('\n').includes(marker)) {
          throw new Error(`The inline config must not contain a line "${marker}"`);
        }
        commands.push(`cat > ${configFile} <<'${marker}'\n${yaml.replace(/\n$/, '')}\n${marker}`);
        break;
      }
      default:
        throw new Error('TernEc2Agent takes TernConfig.fromParameter or TernConfig.fromInline');
    }
    const args = ['--binary', `${WORK_DIR}/tern`, '--sha256', props.binary.sha256, '--config', configFile,
      '--unit', `${WORK_DIR}/tern.service`, ...(props.installArgs ?? [])];
    commands.push(`sh ${WORK_DIR}/install.sh ${args.join(' ')}`, `rm -rf ${WORK_DIR}`);
    // A subshell keeps `set -eu` from changing other user-data commands. Its status is read
    // afterwards, not with `||` (which would switch `set -e` off inside it); a failed install
    // fails the whole user data (see /var/log/cloud-init-output.log).
    userData.addCommands(
      `(\n${commands.join('\n')}\n)`,
      'tern_status=$?',
      'if [ "$tern_status" -ne 0 ]; then echo "Tern install failed ($tern_status)" >&2; exit 1; fi',
    );

    if (props.exporters) {
      TernPermissions.grantExporters(role, props.exporters);
    }
  }
}
