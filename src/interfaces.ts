// Network interfaces: the list with their indexes, and every form in which the API takes an
// interface (dgram's address forms, and ours: by index or by name).
import { networkInterfaces } from 'os';

import { ParsedIp, ipArgument, scopeOf } from './address';
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { binding } from './native';

export interface InterfaceAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  netmask: string;
  cidr: string | null;
  /** The zone of a link-local IPv6 address: the interface index. */
  scopeid?: number;
}

export interface NetworkInterface {
  name: string;
  /** What interfaceIndex, rinfo.interfaceIndex and zones ('%2') use. */
  index: number;
  addresses: InterfaceAddress[];
}

/**
 * The host's interfaces with their indexes, which os.networkInterfaces() does not give: what a
 * server that sends first (a DHCP server's broadcast, an mDNS announcement) needs for
 * interfaceIndex. Interfaces without an address are not listed (as os.networkInterfaces()).
 */
export function listInterfaces(): NetworkInterface[] {
  const list: NetworkInterface[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    const index = binding.interfaceIndex(name);
    if (index === 0 || addresses === undefined) continue; // gone since the list was read
    list.push({
      name,
      index,
      addresses: addresses.map(({ address, family, netmask, cidr, scopeid }) => ({
        address,
        family: (family === 'IPv6' || (family as unknown) === 6) ? 'IPv6' as const : 'IPv4' as const,
        netmask,
        cidr,
        ...(scopeid === undefined ? {} : { scopeid }),
      })),
    });
  }
  return list.sort((a, b) => a.index - b.index);
}

/** An interface chosen by index or by name, our extension of dgram's forms. */
export interface InterfaceSelector {
  interfaceIndex?: number;
  interfaceName?: string;
}

/** An interface as the addon takes it: an index, or (IPv4, dgram's form) one of its addresses. */
export interface InterfaceChoice {
  index: number;
  ipv4Address: ParsedIp | undefined;
}

const ANY_INTERFACE: InterfaceChoice = { index: 0, ipv4Address: undefined };

/** The index of the interface named name now, or ERR_INVALID_ARG_VALUE. */
export function interfaceIndexOf(name: string, argument: string): number {
  if (typeof name !== 'string') throw invalidArgType(argument, 'of type string', name);
  const index = binding.interfaceIndex(name);
  if (index === 0) throw invalidArgValue(argument, name, 'names an interface that does not exist');
  return index;
}

export function validateIndex(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw outOfRange(name, 'an integer >= 0 and <= 2147483647', value);
  }
  return value;
}

/** interfaceIndex or interfaceName, not both; 0 when neither. */
export function selectedIndex(selector: InterfaceSelector, prefix = ''): number {
  const { interfaceIndex, interfaceName } = selector;
  if (interfaceIndex !== undefined && interfaceName !== undefined) {
    throw invalidArgValue(`${prefix}interfaceName`, interfaceName, 'cannot be given with interfaceIndex');
  }
  if (interfaceName !== undefined) return interfaceIndexOf(interfaceName, `${prefix}interfaceName`);
  if (interfaceIndex !== undefined) return validateIndex(interfaceIndex, `${prefix}interfaceIndex`);
  return 0;
}

/**
 * The interface value of addMembership, setMulticastInterface and their kin, for a group (or
 * traffic) of family: dgram's string forms (IPv4: an address of the interface; IPv6: a literal
 * whose zone names it, '::%eth0' or '::%2'), or { interfaceIndex } / { interfaceName }.
 */
export function interfaceChoice(value: unknown, family: 4 | 6, name: string): InterfaceChoice {
  if (value === undefined || value === null) return ANY_INTERFACE;
  if (typeof value === 'object') return { index: selectedIndex(value as InterfaceSelector, `${name}.`), ipv4Address: undefined };
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string or an object', value);
  const ip = ipArgument(value, name);
  if (family === 4) {
    if (ip.family !== 4) throw invalidArgValue(name, value, 'must be an IPv4 address for an IPv4 group');
    return { index: 0, ipv4Address: ip };
  }
  if (ip.family !== 6) throw invalidArgValue(name, value, "must be an IPv6 literal whose zone names the interface ('::%eth0')");
  return { index: scopeOf(ip, value, name), ipv4Address: undefined };
}
