/**
 * Who calls: the API roles and the principal a request runs as. One definition, read by the
 * route table, the token service, the configuration's role map and the services.
 */

/** The API roles, least to most privileged in spirit; `admin` may do everything. */
/**
 * `security` quarantines artifacts and reads the audit log; it never promotes or rolls back
 * (a quarantine's automatic rollbacks run as the quarantine, not as a promotion request of its own).
 */
export const ROLES = ['publisher', 'promoter', 'approver', 'operator', 'auditor', 'security', 'admin'] as const;

export type Role = (typeof ROLES)[number];

/** The caller a service acts for: a token's or an IAM principal's id and its role. */
export interface Principal {
  id: string;
  /** `none`: authenticated but given no role (an unmapped IAM caller): refused on every route */
  role: Role | 'none';
}

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);
