// Shared test helpers: stand-in assets, cdk-nag and cfn-lint runs.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

export const REPO = path.resolve(__dirname, '..', '..');

/** Temporary directories of the current test file, removed after it (assets can be large). */
const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs.splice(0)) {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

export function tmpDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tern-cdk-${prefix}-`));
  tmpDirs.push(d);
  return d;
}

/** A layer directory asset holding `extensions/tern`. */
export function dummyLayerDir(): string {
  const d = tmpDir('layer');
  fs.mkdirSync(path.join(d, 'extensions'));
  fs.writeFileSync(path.join(d, 'extensions', 'tern'), '#!/bin/sh\n', { mode: 0o755 });
  return d;
}

/** A small file standing in for the tern binary. */
export function dummyBinary(content = 'stand-in tern binary'): string {
  const f = path.join(tmpDir('bin'), 'tern');
  fs.writeFileSync(f, content, { mode: 0o755 });
  return f;
}

/** All statements of all AWS::IAM::Policy resources attached to the role with `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): any[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const out: any[] = [];
  for (const p of Object.values(policies) as any[]) {
    const roles = p.Properties.Roles as any[];
    if (roles.some(r => r.Ref === roleLogicalId)) {
      out.push(...p.Properties.PolicyDocument.Statement);
    }
  }
  return out;
}

/** [action, resource] pairs of statements, for exact comparisons. */
export function grants(statements: any[]): string[] {
  const pairs: string[] = [];
  for (const s of statements) {
    expect(s.Effect).toBe('Allow');
    const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
    const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
    for (const a of actions) {
      for (const r of resources) {
        pairs.push(`${a} ${typeof r === 'string' ? r : JSON.stringify(r)}`);
      }
    }
  }
  return pairs.sort();
}

export function logicalIdOf(stack: Stack, construct: any): string {
  return stack.getLogicalId(construct.node.defaultChild ?? construct);
}

export interface NagResult {
  readonly success: boolean;
  readonly violations: { ruleName: string; description: string; resources: string[] }[];
}

/**
 * Runs cdk-nag's AwsSolutions checks (v3: a policy validation plugin) over `app` and returns
 * its violations, read from the policy validation report of the synthesized assembly.
 */
export function runNag(app: App): NagResult {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const file = path.join(assembly.directory, 'validation-report.json');
  if (!fs.existsSync(file)) {
    throw new Error(`no validation report at ${file}: the validation plugins did not run`);
  }
  // Plugins without findings are left out of the report; "the checks can fail" in
  // example.test.ts shows this harness does see AwsSolutions violations.
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nag = (report.pluginReports ?? []).filter((r: any) => r.pluginName === 'AwsSolutions');
  const violations = nag.flatMap((r: any) => (r.violations ?? []).map((v: any) => ({
    ruleName: v.ruleName,
    description: v.description,
    resources: (v.violatingConstructs ?? []).map((x: any) => x.constructPath),
  })));
  return { success: nag.every((r: any) => r.conclusion === 'success'), violations };
}

/** A new App whose synth writes the validation report instead of throwing. */
export function nagApp(): App {
  return new App({
    outdir: tmpDir('out'),
    context: { '@aws-cdk/core:failSynthOnValidationErrors': false },
  });
}

/** cfn-lint on templates; returns its output and status (W3005 ignored: CDK adds such DependsOn). */
export function cfnLint(files: string[]): { status: number; output: string } {
  const local = path.join(__dirname, '..', '.venv', 'bin', 'cfn-lint');
  const bin = fs.existsSync(local) ? local : 'cfn-lint';
  try {
    const output = execFileSync(bin, ['--ignore-checks', 'W3005', '--', ...files], { encoding: 'utf8', stdio: 'pipe' });
    return { status: 0, output };
  } catch (e: any) {
    if (e.code === 'ENOENT') {
      throw new Error('cfn-lint is not installed: run deploy/ci.sh (creates cdk/.venv) or pip install cfn-lint');
    }
    return { status: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
