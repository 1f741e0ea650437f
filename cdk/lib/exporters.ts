// Least-privilege IAM for Tern's exporters: the one place every construct gets its grants from.
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/**
 * An Amazon Managed Service for Prometheus workspace that Tern's `prometheusremotewrite`
 * exporter writes to.
 */
export interface TernAmpWorkspace {
  /**
   * ARN of the workspace, `arn:aws:aps:<region>:<account>:workspace/ws-…`. The grantee gets
   * `aps:RemoteWrite` on this ARN and nothing else.
   */
  readonly workspaceArn: string;
}

/**
 * The exporters a Tern config uses, so that each construct can grant exactly what they need.
 */
export interface TernExporters {
  /**
   * The config uses the `awsxray` exporter (`xray:PutTraceSegments`, which X-Ray only
   * allows on `*`).
   *
   * @default false
   */
  readonly xray?: boolean;

  /**
   * The config uses `prometheusremotewrite` with `sigv4auth` to this AMP workspace.
   *
   * @default - no AMP permission
   */
  readonly amp?: TernAmpWorkspace;
}

/** Why the X-Ray statement has `Resource: *`; also the cdk-nag acknowledgment's reason. */
export const XRAY_WILDCARD_REASON =
  'X-Ray PutTraceSegments supports no resource-level permissions (IAM requires Resource "*"); '
  + 'Tern calls no other X-Ray action.';

/** The ID of the only cdk-nag finding the library acknowledges. */
const XRAY_NAG_FINDING = 'AwsSolutions-IAM5[Resource::*]';

/**
 * Grants the IAM permissions of Tern's exporters.
 */
export class TernPermissions {
  /**
   * The actions granted for the `awsxray` exporter.
   */
  public static readonly XRAY_ACTIONS: string[] = ['xray:PutTraceSegments'];

  /**
   * The actions granted on an AMP workspace for `prometheusremotewrite`.
   */
  public static readonly AMP_ACTIONS: string[] = ['aps:RemoteWrite'];

  /**
   * The remote-write URL of an AMP workspace, derived from its ARN (region and workspace ID),
   * in the shape `template.yaml` checks:
   * `https://aps-workspaces.<region>.amazonaws.com/workspaces/<ws-id>/api/v1/remote_write`.
   */
  public static ampRemoteWriteUrl(scope: IConstruct, workspaceArn: string): string {
    const arn = Stack.of(scope).splitArn(workspaceArn, ArnFormat.SLASH_RESOURCE_NAME);
    const workspaceId = arn.resourceName;
    if (!workspaceId) {
      throw new Error(`Not an AMP workspace ARN: ${workspaceArn}`);
    }
    return `https://aps-workspaces.${arn.region}.${Stack.of(scope).urlSuffix}/workspaces/${workspaceId}/api/v1/remote_write`;
  }

  /**
   * Grants `grantee` exactly what `exporters` need.
   *
   * - X-Ray: `xray:PutTraceSegments` on `*`, in a policy of its own (`TernXRayWrite`, a child
   *   of the role) that carries the cdk-nag acknowledgment for that wildcard, so the
   *   acknowledgment covers nothing else.
   * - AMP: `aps:RemoteWrite` on the workspace ARN only.
   *
   * @returns the X-Ray policy when one was created (roles only), for dependencies
   */
  public static grantExporters(grantee: iam.IGrantable, exporters: TernExporters): iam.Policy | undefined {
    let xrayPolicy: iam.Policy | undefined;
    if (exporters.xray) {
      const statement = new iam.PolicyStatement({
        sid: 'TernXRayWrite',
        actions: TernPermissions.XRAY_ACTIONS,
        resources: ['*'],
      });
      const principal = grantee.grantPrincipal;
      if (principal instanceof iam.Role || isRole(principal)) {
        const role = principal as iam.IRole;
        const existing = role.node.tryFindChild('TernXRayWrite');
        if (existing instanceof iam.Policy) {
          xrayPolicy = existing;
        } else {
          xrayPolicy = new iam.Policy(role, 'TernXRayWrite', { statements: [statement] });
          xrayPolicy.attachToRole(role);
          Validations.of(xrayPolicy).acknowledge({ id: XRAY_NAG_FINDING, reason: XRAY_WILDCARD_REASON });
        }
      } else {
        principal.addToPrincipalPolicy(statement);
      }
    }
    if (exporters.amp) {
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'TernAmpRemoteWrite',
        actions: TernPermissions.AMP_ACTIONS,
        resources: [exporters.amp.workspaceArn],
      }));
    }
    return xrayPolicy;
  }

  private constructor() {}
}

function isRole(principal: iam.IPrincipal): boolean {
  const candidate = principal as Partial<iam.IRole>;
  return typeof candidate.roleArn === 'string' && typeof candidate.roleName === 'string'
    && typeof candidate.node === 'object';
}
