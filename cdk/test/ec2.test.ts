import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { TernBinary, TernConfig, TernEc2Agent } from '../lib';
import { dummyBinary, grants, REPO, statementsOfRole, tmpDir } from './helpers';

function base() {
  const stack = new Stack(new App(), 'S');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
  const instance = new ec2.Instance(stack, 'I', {
    vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  });
  return { stack, vpc, instance };
}

/** User data as one string, tokens rendered as ${Kind:detail}. */
function userDataText(stack: Stack, t: Template, type: string, pathToUserData: (p: any) => any): string {
  const [r] = Object.values(t.findResources(type)) as any[];
  const ud = pathToUserData(r.Properties)['Fn::Base64'];
  const render = (x: any): string => {
    if (typeof x === 'string') return x;
    if (x['Fn::Join']) return x['Fn::Join'][1].map(render).join(x['Fn::Join'][0]);
    if (x.Ref) return `\${Ref:${x.Ref}}`;
    if (x['Fn::Sub']) return `\${Sub:${x['Fn::Sub']}}`;
    return `\${${JSON.stringify(x)}}`;
  };
  void stack;
  return render(ud);
}

describe('TernEc2Agent', () => {
  test('user data fetches binary, unit and script, checks the SHA-256 and runs install.sh', () => {
    const { stack, instance } = base();
    const bin = dummyBinary('binary-one');
    const sha = crypto.createHash('sha256').update('binary-one').digest('hex');
    const parameter = new ssm.StringParameter(stack, 'Cfg', { parameterName: '/tern/ec2', stringValue: 'x: 1' });
    const agent = new TernEc2Agent(stack, 'Tern', { instance, binary: TernBinary.fromAsset(bin), config: TernConfig.fromParameter(parameter) });
    expect(agent.binarySha256).toBe(sha);
    const t = Template.fromStack(stack);
    const ud = userDataText(stack, t, 'AWS::EC2::Instance', p => p.UserData);
    expect(ud).toContain(`sh /run/tern-install/install.sh --binary /run/tern-install/tern --sha256 ${sha} --config /run/tern-install/config.yaml --unit /run/tern-install/tern.service`);
    expect(ud).toMatch(/aws s3 cp --only-show-errors --region \$\{Ref:AWS::Region\} s3:\/\/\$\{Sub:cdk-[a-z0-9]+-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}\}\/[0-9a-f]{64}\.sh \/run\/tern-install\/install.sh/);
    expect(ud).toMatch(/\/[0-9a-f]{64}\.service \/run\/tern-install\/tern.service/);
    expect(ud).toMatch(/\/[0-9a-f.]{64,} \/run\/tern-install\/tern\n/);
    expect(ud).toContain('aws ssm get-parameter --region ${Ref:AWS::Region} --with-decryption --name ${Ref:');
    expect(ud).toContain('--query Parameter.Value --output text > /run/tern-install/config.yaml');
    expect(ud).toContain('(\nset -eu\n');
    expect(ud).toContain('tern_status=$?');
  });

  test('instance role: s3:GetObject on three single objects, ssm:GetParameter on the parameter, exporters', () => {
    const { stack, instance } = base();
    const parameter = new ssm.StringParameter(stack, 'Cfg', { parameterName: '/tern/ec2', stringValue: 'x: 1' });
    new TernEc2Agent(stack, 'Tern', {
      instance, binary: TernBinary.fromAsset(dummyBinary()), config: TernConfig.fromParameter(parameter),
      exporters: { xray: true, amp: { workspaceArn: 'arn:aws:aps:us-east-1:111122223333:workspace/ws-1' } },
    });
    const t = Template.fromStack(stack);
    const roleId = stack.getLogicalId(instance.role.node.defaultChild as any);
    const g = grants(statementsOfRole(t, roleId));
    const s3 = g.filter(x => x.startsWith('s3:'));
    expect(s3).toHaveLength(3);
    for (const x of s3) {
      expect(x).toMatch(/^s3:GetObject .*\/[0-9a-f.]{64,}(\.sh|\.service)?"\]\]\}$/);
      expect(x).not.toContain('*');
    }
    expect(g.filter(x => !x.startsWith('s3:'))).toEqual([
      'aps:RemoteWrite arn:aws:aps:us-east-1:111122223333:workspace/ws-1',
      `ssm:GetParameter ${JSON.stringify(stack.resolve(parameter.parameterArn))}`,
      'xray:PutTraceSegments *',
    ]);
  });

  test('inline config is written with a quoted heredoc; fromUrl downloads with curl', () => {
    const { stack, instance } = base();
    const sha = 'a'.repeat(64);
    new TernEc2Agent(stack, 'Tern', {
      instance, binary: TernBinary.fromUrl('https://example.com/tern', sha),
      config: TernConfig.fromInline('receivers:\n  otlp: {}\n'), installArgs: ['--prefix', '/opt/tern'],
    });
    const ud = userDataText(stack, Template.fromStack(stack), 'AWS::EC2::Instance', p => p.UserData);
    expect(ud).toContain("cat > /run/tern-install/config.yaml <<'TERN_CONFIG_EOF'\nreceivers:\n  otlp: {}\nTERN_CONFIG_EOF\n");
    expect(ud).toContain("curl -fsSL --proto '=https' -o /run/tern-install/tern 'https://example.com/tern'");
    expect(ud).toContain(`--sha256 ${sha} --config /run/tern-install/config.yaml --unit /run/tern-install/tern.service --prefix /opt/tern`);
    expect(() => TernBinary.fromUrl('http://example.com/tern', sha)).toThrow(/https/);
    expect(() => TernBinary.fromUrl('https://example.com/tern', 'XYZ')).toThrow(/SHA-256/);
  });

  test('auto-scaling group', () => {
    const { stack, vpc } = base();
    const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', {
      vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });
    new TernEc2Agent(stack, 'Tern', { autoScalingGroup: asg, binary: TernBinary.fromAsset(dummyBinary()), config: TernConfig.fromInline('a: 1') });
    const t = Template.fromStack(stack);
    const types = Object.keys(t.findResources('AWS::EC2::LaunchTemplate')).length ? 'AWS::EC2::LaunchTemplate' : 'AWS::AutoScaling::LaunchConfiguration';
    const ud = userDataText(stack, t, types, p => (p.LaunchTemplateData ?? p).UserData);
    expect(ud).toContain('sh /run/tern-install/install.sh --binary /run/tern-install/tern');
  });

  test('exactly one of instance and autoScalingGroup', () => {
    const { stack, vpc, instance } = base();
    const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', {
      vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });
    const common = { binary: TernBinary.fromAsset(dummyBinary()), config: TernConfig.fromInline('a: 1') };
    expect(() => new TernEc2Agent(stack, 'A', { ...common })).toThrow(/exactly one/);
    expect(() => new TernEc2Agent(stack, 'B', { ...common, instance, autoScalingGroup: asg })).toThrow(/exactly one/);
    expect(() => new TernEc2Agent(stack, 'C', { ...common, instance, config: TernConfig.fromFile('/etc/x.yaml') }))
      .toThrow(/fromParameter or TernConfig.fromInline/);
  });

  test('the generated user data installs Tern when run (fake aws CLI, install into a DESTDIR)', () => {
    const tern = process.env.TERN_BIN ?? path.join(REPO, 'target', 'debug', 'tern');
    if (!fs.existsSync(tern)) {
      throw new Error(`needs the tern binary at ${tern} (cargo build -p tern-sidecar, or set TERN_BIN)`);
    }
    const app = new App({ outdir: tmpDir('ud-out') });
    const stack = new Stack(app, 'S');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
    const instance = new ec2.Instance(stack, 'I', { vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.latestAmazonLinux2023() });
    const dest = tmpDir('ud-dest');
    const parameter = new ssm.StringParameter(stack, 'Cfg', { parameterName: '/tern/ec2', stringValue: 'unused' });
    new TernEc2Agent(stack, 'Tern', {
      instance, binary: TernBinary.fromAsset(tern), config: TernConfig.fromParameter(parameter), installArgs: ['--destdir', dest],
    });
    const assembly = app.synth();
    const t = Template.fromStack(stack);
    const work = tmpDir('ud-work');
    let script = userDataText(stack, t, 'AWS::EC2::Instance', p => p.UserData)
      .replace(/\$\{Ref:AWS::Region\}/g, 'us-east-1')
      .replace(/\$\{Sub:[^ ]*?\}\}(?=\/)/g, 'bucket')
      .replace(/\$\{Ref:[A-Za-z0-9]+\}/g, '/tern/ec2')
      .split('/run/tern-install').join(`${work}/run`);
    expect(script).not.toMatch(/\$\{(Ref|Sub):/);
    // A fake aws CLI: `s3 cp s3://bucket/KEY DEST` copies the staged asset; `ssm get-parameter`
    // prints the EC2 config.
    const fakeBin = tmpDir('ud-bin');
    fs.writeFileSync(path.join(fakeBin, 'aws'), `#!/bin/sh
case "$1 $2" in
  "s3 cp") for a; do case "$a" in s3://*) key="\${a#s3://bucket/}";; esac; done
           for a; do last="$a"; done
           src="${assembly.directory}/asset.$key"; [ -e "$src" ] || src="${assembly.directory}/asset.\${key%%.*}"
           cp "$src" "$last" ;;
  "ssm get-parameter") cat "${path.join(REPO, 'deploy', 'ec2', 'config.yaml')}" ;;
  *) echo "unexpected aws $*" >&2; exit 2 ;;
esac
`, { mode: 0o755 });
    script = `#!/bin/bash\nexport PATH=${fakeBin}:$PATH\nexport AMP_REMOTE_WRITE_ENDPOINT=https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write\n${script.replace(/^#!\/bin\/bash\n/, '')}`;
    fs.writeFileSync(path.join(work, 'user-data.sh'), script);
    execFileSync('bash', [path.join(work, 'user-data.sh')], { stdio: 'pipe' });
    expect(fs.readFileSync(path.join(dest, 'usr/local/bin/tern')).equals(fs.readFileSync(tern))).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'etc/tern/config.yaml'), 'utf8')).toBe(fs.readFileSync(path.join(REPO, 'deploy/ec2/config.yaml'), 'utf8'));
    expect(fs.readFileSync(path.join(dest, 'etc/systemd/system/tern.service'), 'utf8')).toContain('ExecStart=/usr/local/bin/tern --config /etc/tern/config.yaml');
    expect(fs.existsSync(`${work}/run`)).toBe(false);
    // A wrong binary (checksum mismatch) fails the user data.
    fs.writeFileSync(path.join(work, 'user-data-bad.sh'), script.replace(/--sha256 [0-9a-f]{64}/, `--sha256 ${'0'.repeat(64)}`));
    expect(() => execFileSync('bash', [path.join(work, 'user-data-bad.sh')], { stdio: 'pipe' })).toThrow();
  });
});
