// Source and target PostgreSQL endpoints: create or adopt by identifier (other engines refused with the
// supported list), TestConnection and its result, with a failure turned into the fix an operator can
// make (security groups, credentials, pg_hba.conf, TLS), and delete only what Ferry created.
import {
  type Connection,
  CreateEndpointCommand,
  type DatabaseMigrationServiceClient,
  DeleteEndpointCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  type Endpoint,
  TestConnectionCommand,
} from '@aws-sdk/client-database-migration-service';
import { DmsError, DmsErrorType, ErrorType, awsErrorName, isAlreadyExists, isNotFound } from './errors';
import { type EnsureResult, busyIfInvalidState } from './instance';
import { type DeleteOptions, type DeleteResult, createdByFerry, refuseDelete } from './ownership';
import { checkEngine, endpointRequest } from './requests';
import { findOne, type RetryOptions, type WaitOptions, poll } from './retry';
import type { EndpointSpec, FerryTagInfo } from './spec';

export async function findEndpoint(
  dms: DatabaseMigrationServiceClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<Endpoint | undefined> {
  return findOne(
    () =>
      dms.send(new DescribeEndpointsCommand({ Filters: [{ Name: 'endpoint-id', Values: [identifier] }] })),
    (out) => out.Endpoints?.[0],
    retry,
  );
}

/**
 * Create the endpoint, or adopt the one with the same identifier (an adopted endpoint of the other
 * type, or of an engine Ferry does not support, is refused: using it would point the task the wrong way).
 */
export async function ensureEndpoint(
  dms: DatabaseMigrationServiceClient,
  spec: EndpointSpec,
  type: 'source' | 'target',
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const request = endpointRequest(spec, type, tags); // refuses unsupported engines before any call
  const existing = await findEndpoint(dms, spec.identifier, retry);
  if (existing) return adoptEndpoint(dms, existing, spec, type, tags, retry);
  try {
    const out = await dms.send(new CreateEndpointCommand(request));
    const arn = out.Endpoint?.EndpointArn;
    if (!arn) throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, 'CreateEndpoint returned no ARN');
    return { arn, created: true, existed: false, drift: [] };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const found = await findEndpoint(dms, spec.identifier, retry);
    if (!found) throw err;
    return adoptEndpoint(dms, found, spec, type, tags, retry);
  }
}

async function adoptEndpoint(
  dms: DatabaseMigrationServiceClient,
  ep: Endpoint,
  spec: EndpointSpec,
  type: 'source' | 'target',
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const arn = ep.EndpointArn;
  if (!arn) throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, `endpoint ${spec.identifier} has no ARN`);
  const haveType = ep.EndpointType?.toLowerCase();
  if (haveType && haveType !== type)
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `endpoint ${spec.identifier} exists as a ${haveType} endpoint; Ferry needs it as a ${type}: rename one of them`,
      { details: { arn } },
    );
  checkEngine({ ...spec, engine: ep.EngineName ?? spec.engine });
  const drift: string[] = [];
  const diff = (field: string, want: unknown, have: unknown) => {
    if (want !== undefined && have !== undefined && want !== have)
      drift.push(`${field}: ${String(have)} != ${String(want)}`);
  };
  diff('engine', checkEngine(spec), ep.EngineName);
  diff('database', spec.database, ep.DatabaseName);
  diff('sslMode', spec.sslMode ?? 'require', ep.SslMode);
  if (!('secretsManagerSecretId' in spec.auth)) {
    diff('server', spec.server, ep.ServerName);
    diff('port', spec.port, ep.Port);
  } else {
    diff('secret', spec.auth.secretsManagerSecretId, ep.PostgreSQLSettings?.SecretsManagerSecretId);
  }
  if (type === 'source') diff('slotName', spec.slotName, ep.PostgreSQLSettings?.SlotName);
  const created = await createdByFerry(dms, arn, tags.migration, retry);
  return { arn, created, existed: true, drift };
}

export async function deleteEndpoint(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: DeleteOptions,
): Promise<DeleteResult> {
  const refused = await refuseDelete(dms, arn, opts);
  if (refused) return refused;
  try {
    await dms.send(new DeleteEndpointCommand({ EndpointArn: arn }));
    return { deleted: true };
  } catch (err) {
    if (isNotFound(err)) return { deleted: false, reason: 'already gone' };
    throw busyIfInvalidState(err, `endpoint ${arn}`);
  }
}

// ---- TestConnection ---------------------------------------------------------------------------------

export interface ConnectionAdvice {
  type: ErrorType | DmsErrorType;
  /** One line naming the likely cause and the fix. */
  advice: string;
}

/**
 * Map DMS's LastFailureMessage (PostgreSQL's or the network's words, relayed) to the fix. Order matters:
 * a pg_hba message also says "SSL off", and a password message may mention the host.
 */
export function connectionAdvice(message: string): ConnectionAdvice {
  const m = message.toLowerCase();
  if (/no pg_hba\.conf entry/.test(m))
    return {
      type: ErrorType.AUTH_FAILED,
      advice:
        'pg_hba.conf on the database has no line for the replication instance: add e.g. ' +
        '"hostssl <database> <user> <replication instance private IP>/32 scram-sha-256" ' +
        '(plus a "replication" line for a CDC source) and reload PostgreSQL (SELECT pg_reload_conf()).',
    };
  if (/password authentication failed|authentication failed|invalid password|role .* does not exist/.test(m))
    return {
      type: ErrorType.AUTH_FAILED,
      advice:
        'The database refused the credentials: check the username and password stored in the Secrets Manager ' +
        'secret (keys username, password, host, port) or the endpoint password, then test again.',
    };
  if (/secretsmanager|secrets manager|secret/.test(m) && /access|denied|not authorized|assume|kms/.test(m))
    return {
      type: ErrorType.SECRET_UNRESOLVED,
      advice:
        'DMS could not read the secret: SecretsManagerAccessRoleArn must trust dms.<region>.amazonaws.com, ' +
        'allow secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key), and the caller needs iam:PassRole.',
    };
  if (/database .* does not exist/.test(m))
    return {
      type: ErrorType.DATABASE_MISSING,
      advice:
        "The database named in the endpoint does not exist on that server: fix the endpoint's database name.",
    };
  if (/ssl|tls|certificate/.test(m))
    return {
      type: DmsErrorType.DMS_CONNECTION_FAILED,
      advice:
        'TLS negotiation failed: match the endpoint SslMode to the server (ssl = on for require/verify-*), and for ' +
        'verify-ca/verify-full import the server CA into DMS (ImportCertificate) and set CertificateArn; verify-full also needs the host name in the certificate.',
    };
  if (
    /could not translate host name|name or service not known|getaddrinfo|unknown host|nodename nor servname/.test(
      m,
    )
  )
    return {
      type: ErrorType.ENDPOINT_UNREACHABLE,
      advice:
        "The host name does not resolve from the replication instance's VPC: use a name the VPC's DNS knows " +
        '(Route 53 Resolver rule for on-site names) or the IP address.',
    };
  if (
    /timed? ?out|timeout|could not connect|connection refused|no route to host|network is unreachable|unreachable|etimedout|econnrefused/.test(
      m,
    )
  )
    return {
      type: ErrorType.ENDPOINT_UNREACHABLE,
      advice:
        "The replication instance cannot reach host:port: allow its security group's outbound traffic and the " +
        "database's security group / firewall inbound on the port from the instance's private IP, check network ACLs " +
        'both ways, and the route (VPN / Direct Connect / peering) from its subnets to the database.',
    };
  return {
    type: DmsErrorType.DMS_CONNECTION_FAILED,
    advice:
      "Read the message above; the endpoint's CloudWatch log and the database server log show the refused attempt.",
  };
}

/** Start TestConnection (or join a test already running) and wait for `successful` or `failed`. */
export async function testConnection(
  dms: DatabaseMigrationServiceClient,
  replicationInstanceArn: string,
  endpointArn: string,
  opts: WaitOptions = {},
): Promise<Connection> {
  try {
    await dms.send(
      new TestConnectionCommand({ ReplicationInstanceArn: replicationInstanceArn, EndpointArn: endpointArn }),
    );
  } catch (err) {
    // A test of this pair already running (an earlier attempt of the activity): wait for that one.
    if (awsErrorName(err) !== 'InvalidResourceStateFault') throw err;
  }
  return poll<Connection | undefined, Connection>(
    `connection test of ${endpointArn}`,
    async () => {
      const out = await dms.send(
        new DescribeConnectionsCommand({
          Filters: [
            { Name: 'endpoint-arn', Values: [endpointArn] },
            { Name: 'replication-instance-arn', Values: [replicationInstanceArn] },
          ],
        }),
      );
      return out.Connections?.[0];
    },
    (c) => {
      const status = c?.Status ?? 'testing';
      if (status === 'successful' && c) return { done: c };
      if (status === 'failed') {
        const msg = c?.LastFailureMessage ?? 'no message';
        const { type, advice } = connectionAdvice(msg);
        throw new DmsError(
          type,
          `connection test of endpoint ${c?.EndpointIdentifier ?? endpointArn} from replication instance ` +
            `${c?.ReplicationInstanceIdentifier ?? replicationInstanceArn} failed: ${msg}. ${advice}`,
          { details: { endpointArn, replicationInstanceArn, status, lastFailureMessage: msg } },
        );
      }
      if (status === 'deleting')
        throw new DmsError(DmsErrorType.DMS_RESOURCE_BUSY, `endpoint ${endpointArn} is being deleted`);
      return { status };
    },
    opts,
  );
}
