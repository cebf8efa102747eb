import { Aws, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as identitypool from 'aws-cdk-lib/aws-cognito-identitypool';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ROLES, type Role } from '../kernel/identity.js';
import { acknowledge } from './acknowledge.js';

/** The hosted sign-in domain's prefix of an environment: `aegis-<envName>-<account>` (unique per region, as Cognito requires). */
export const cognitoDomainPrefix = (envName: string): string => Fn.join('-', ['aegis', envName, Aws.ACCOUNT_ID]);

/** The hosted sign-in page's origin for a domain prefix. */
export const cognitoDomainUrl = (prefix: string): string => Fn.join('', ['https://', prefix, '.auth.', Aws.REGION, '.amazoncognito.com']);

export interface ConsoleIdentityProps {
  /** The hosted sign-in domain's prefix (`<prefix>.auth.<region>.amazoncognito.com`): {@link cognitoDomainPrefix}. */
  readonly domainPrefix: string;
  /** The console's origin (`https://<distribution domain>`): the app client's only callback and logout URL. */
  readonly consoleOrigin: string;
  /** The REST API's id, as the nested stack's `RestApiId` parameter (cdk-nag names it so in findings). */
  readonly restApiId: string;
  /** The API's stage: every group role may invoke `<api>/<stage>/*` and nothing else. */
  readonly stageName: string;
}

/**
 * Who may use the console on AWS: a Cognito user pool (administrators create the users; no
 * self sign-up; MFA with an authenticator app required; threat protection on), an app client
 * for the hosted sign-in page (authorization code with PKCE, no secret), and one group per
 * Aegis role. Each group carries an IAM role; the identity pool hands a signed-in user the
 * credentials of their group's role (token-based mapping, no unauthenticated identities, no
 * role for a user in no group), with which the browser signs its API calls (SigV4). The API
 * maps each group role to its Aegis role (`AEGIS_IAM_ROLE_MAP`) and names the user
 * `cognito:<sub>` (see `lib/platform/adapters/auth/iam.ts`).
 */
export class ConsoleIdentity extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly client: cognito.UserPoolClient;
  public readonly domain: cognito.UserPoolDomain;
  public readonly identityPool: identitypool.IdentityPool;
  /** Aegis role → the IAM role its user-pool group hands out. */
  public readonly groupRoles: Readonly<Record<Role, iam.Role>>;
  /** Aegis role → its user-pool group. */
  public readonly groups: Readonly<Record<Role, cognito.UserPoolGroup>>;
  /** `https://<prefix>.auth.<region>.amazoncognito.com`: the hosted sign-in page. */
  public readonly domainUrl: string;

  constructor(scope: Construct, id: string, props: ConsoleIdentityProps) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // Administrators add users (README: "Console on AWS"); nobody signs themselves up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // A console user may promote, roll back and quarantine: a password alone is not enough.
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const callback = `${props.consoleOrigin}/`;
    this.client = this.userPool.addClient('ConsoleClient', {
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [callback],
        logoutUrls: [callback],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
      enableTokenRevocation: true,
    });
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.domainPrefix } });
    this.domainUrl = cognitoDomainUrl(props.domainPrefix);

    this.identityPool = new identitypool.IdentityPool(this, 'IdentityPool', {
      allowUnauthenticatedIdentities: false,
      authenticationProviders: {
        userPools: [new identitypool.UserPoolAuthenticationProvider({ userPool: this.userPool, userPoolClient: this.client })],
      },
      // The role comes from the ID token (the group's role: cognito:preferred_role); a user in
      // no group is refused credentials (ambiguous roles are not resolved to a default role).
      roleMappings: [
        {
          mappingKey: 'console',
          providerUrl: identitypool.IdentityPoolProviderUrl.userPool(this.userPool, this.client),
          useToken: true,
          resolveAmbiguousRoles: false,
        },
      ],
    });

    const groupRoles = {} as Record<Role, iam.Role>;
    const groups = {} as Record<Role, cognito.UserPoolGroup>;
    for (const [index, role] of ROLES.entries()) {
      groupRoles[role] = this.groupRole(role, props.restApiId, props.stageName);
      groups[role] = new cognito.UserPoolGroup(this, `Group-${role}`, {
        userPool: this.userPool,
        groupName: role,
        description: `Aegis role ${role}: its members call the API as this role`,
        role: groupRoles[role],
        // A user in several groups gets the role listed first in ROLES (the least privileged of them).
        precedence: index,
      });
    }
    this.groupRoles = groupRoles;
    this.groups = groups;
  }

  /** The IAM role of one group: assumable only through this identity pool by authenticated users, allowed execute-api:Invoke on this API's stage only. */
  private groupRole(role: Role, restApiId: string, stageName: string): iam.Role {
    const principal = new iam.FederatedPrincipal(
      'cognito-identity.amazonaws.com',
      {
        StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.identityPoolId },
        'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
      },
      'sts:AssumeRoleWithWebIdentity',
    );
    const r = new iam.Role(this, `GroupRole-${role}`, {
      assumedBy: principal,
      description: `Aegis console users of group ${role} (${Stack.of(this).stackName})`,
      maxSessionDuration: Duration.hours(1),
    });
    const stageMethods = `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${restApiId}/${stageName}/*`;
    r.addToPolicy(new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [stageMethods] }));
    acknowledge(r, {
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<RestApiId>/${stageName}/*]`,
      reason:
        "Every method of this API's stage: the API maps the role to its Aegis role (AEGIS_IAM_ROLE_MAP) and refuses (403) what that role may not call.",
    });
    return r;
  }
}
