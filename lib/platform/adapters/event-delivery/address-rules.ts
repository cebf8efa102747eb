/**
 * Where a webhook may go (SSRF): not to this machine, the private networks, link-local (the
 * cloud metadata service), carrier-grade NAT, multicast or reserved space — nor to an IPv6
 * address that carries one of those IPv4 addresses (mapped, compatible, NAT64, 6to4) — unless
 * the operator allows the network (`AEGIS_WEBHOOK_ALLOWED_CIDRS`). Only https, http when
 * allowed (`AEGIS_WEBHOOK_ALLOW_HTTP`), never credentials in the URL.
 */
import { BlockList, isIP } from 'node:net';

export interface AddressRulesConfig {
  /** http:// URLs are allowed too (never in production) */
  allowHttp: boolean;
  /** networks exempt from the address rules, e.g. `10.20.0.0/16`, `::1/128`; a bare address is a /32 (/128) */
  allowedCidrs: readonly string[];
}

/** A URL the rules accept: what to connect to, and whether the host is already an address (checked). */
export interface AcceptedUrl {
  url: URL;
  /** the host without IPv6 brackets, as a connection names it */
  host: string;
  /** 4 or 6 when the host is an IP literal (already checked), 0 for a name (check what it resolves to) */
  literal: 0 | 4 | 6;
}

const ALLOW_HINT = 'allow it with AEGIS_WEBHOOK_ALLOWED_CIDRS';
const MAX_URL_LENGTH = 2048;

type Family = 'ipv4' | 'ipv6';
interface Range {
  cidr: string;
  what: string;
  list: BlockList;
}

function range(cidr: string, what: string, family: Family): Range {
  const [net, prefix] = cidr.split('/') as [string, string];
  const list = new BlockList();
  list.addSubnet(net, Number(prefix), family);
  return { cidr, what, list };
}

const PRIVATE = 'a private address';
const DOCUMENTATION = 'a documentation address';

const V4_RANGES: readonly Range[] = [
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['10.0.0.0/8', PRIVATE],
  ['172.16.0.0/12', PRIVATE],
  ['192.168.0.0/16', PRIVATE],
  ['169.254.0.0/16', 'a link-local address (the cloud metadata service is 169.254.169.254)'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['192.0.0.0/24', 'an IETF protocol assignment address'],
  ['192.0.2.0/24', DOCUMENTATION],
  ['198.51.100.0/24', DOCUMENTATION],
  ['203.0.113.0/24', DOCUMENTATION],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved or broadcast address'],
].map(([cidr, what]) => range(cidr!, what!, 'ipv4'));

const V6_RANGES: readonly Range[] = [
  ['::/128', 'the unspecified address'],
  ['::1/128', 'the loopback address'],
  ['fc00::/7', 'a unique local (private) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
  ['100::/64', 'a discard-only address'],
  ['2001:db8::/32', DOCUMENTATION],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
].map(([cidr, what]) => range(cidr!, what!, 'ipv6'));

/** The 8 16-bit words of a valid IPv6 address (`isIP(a) === 6`, zone removed), a trailing dotted quad included. */
export function ipv6Words(address: string): number[] {
  let a = address;
  const quad = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (quad) {
    const [b0, b1, b2, b3] = quad.slice(2).map(Number) as [number, number, number, number];
    a = `${quad[1]}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  if (tail === undefined) return h;
  const t = words(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

const dotted = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/** The IPv4 address an IPv6 address stands for, when it is one of the forms that reach it. */
export function embeddedIpv4(address: string): { v4: string; how: string } | null {
  const w = ipv6Words(address);
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const last = () => dotted(w[6]!, w[7]!);
  if (zero(0, 5) && w[5] === 0xffff) return { v4: last(), how: 'is the IPv4-mapped form of' };
  if (zero(0, 4) && w[4] === 0xffff && w[5] === 0) return { v4: last(), how: 'is the IPv4-translated form of' };
  // ::a.b.c.d, but not :: nor ::1 (the IPv6 unspecified and loopback addresses, refused as such)
  if (zero(0, 7) ? w[7]! > 1 : zero(0, 6)) return { v4: last(), how: 'is the IPv4-compatible form of' };
  if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) return { v4: last(), how: 'is the NAT64 form of' };
  if (w[0] === 0x2002) return { v4: dotted(w[1]!, w[2]!), how: 'is a 6to4 address embedding' };
  return null;
}

const withoutZone = (address: string) => address.replace(/%.*$/, '');

function parseCidr(cidr: string): { net: string; prefix: number; family: Family } {
  const [net = '', prefixText, extra] = cidr.trim().split('/');
  const version = isIP(net);
  const max = version === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (version === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max))
    throw new RangeError(`AEGIS_WEBHOOK_ALLOWED_CIDRS: "${cidr}" is not a network (e.g. 10.20.0.0/16 or fd00::/8)`);
  return { net, prefix, family: version === 6 ? 'ipv6' : 'ipv4' };
}

/**
 * The address and URL rules of webhook deliveries. Built once from `Config.events`; an invalid
 * allowed network throws at construction (startup), not at the first delivery.
 *
 * @example
 * const rules = new WebhookAddressRules({ allowHttp: false, allowedCidrs: [] });
 * rules.address('10.1.2.3'); // '10.1.2.3 is a private address (10.0.0.0/8); allow it with AEGIS_WEBHOOK_ALLOWED_CIDRS'
 * rules.address('93.184.216.34'); // null
 */
export class WebhookAddressRules {
  private readonly allowed = new BlockList();
  private readonly allowHttp: boolean;

  constructor(config: AddressRulesConfig) {
    this.allowHttp = config.allowHttp;
    for (const c of config.allowedCidrs) {
      const { net, prefix, family } = parseCidr(c);
      this.allowed.addSubnet(net, prefix, family);
    }
  }

  /** Null when a delivery may connect to this address, else why not (naming the address and the rule). */
  address(address: string): string | null {
    const a = withoutZone(address);
    const version = isIP(a);
    if (version === 0) return `${address} is not an IP address`;
    const family: Family = version === 6 ? 'ipv6' : 'ipv4';
    const embedded = version === 6 ? embeddedIpv4(a) : null;
    if (this.allowed.check(a, family) || (embedded && this.allowed.check(embedded.v4, 'ipv4'))) return null;
    const direct = (version === 6 ? V6_RANGES : V4_RANGES).find((r) => r.list.check(a, family));
    if (direct) return `${address} is ${direct.what} (${direct.cidr}); ${ALLOW_HINT}`;
    const inner = embedded && V4_RANGES.find((r) => r.list.check(embedded.v4, 'ipv4'));
    if (embedded && inner) return `${address} ${embedded.how} ${embedded.v4}, ${inner.what} (${inner.cidr}); ${ALLOW_HINT}`;
    return null;
  }

  /** The first refusal among addresses a name resolved to: one bad answer refuses them all (DNS rebinding). */
  addresses(host: string, addresses: readonly string[]): string | null {
    if (addresses.length === 0) return `${host} resolved to no address`;
    for (const a of addresses) {
      const why = this.address(a);
      if (why) return `${host} resolves to a refused address: ${why}`;
    }
    return null;
  }

  /** The URL rules (scheme, no credentials, a host; an IP-literal host checked here). Never echoes the URL's password. */
  url(raw: string): { ok: true; accepted: AcceptedUrl } | { ok: false; reason: string } {
    if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `the URL is longer than ${MAX_URL_LENGTH} characters` };
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, reason: 'not a valid absolute URL' };
    }
    if (url.username !== '' || url.password !== '') return { ok: false, reason: 'the URL must not carry credentials (user:password@)' };
    if (url.protocol === 'http:' && !this.allowHttp)
      return { ok: false, reason: 'http:// is not allowed here: use https:// (AEGIS_WEBHOOK_ALLOW_HTTP allows http outside production)' };
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return { ok: false, reason: `${url.protocol} URLs are not webhooks: use https://` };
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') return { ok: false, reason: 'the URL has no host' };
    const literal = isIP(host) as 0 | 4 | 6;
    if (literal !== 0) {
      const why = this.address(host);
      if (why) return { ok: false, reason: why };
    }
    return { ok: true, accepted: { url, host, literal } };
  }
}
