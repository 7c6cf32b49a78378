// Multicast arguments: a membership's group, source and interface, judged before anything is
// done, and the records the addon reads them (and setMulticastInterface's interface) from.
import { ParsedIp, ipArgument } from './address';
import { invalidArgType, invalidArgValue, missingArgs } from './errors';
import { InterfaceChoice, interfaceChoice } from './interfaces';
import { SendRecord, binding } from './native';
import { writeIp } from './send-record';
import type { MulticastInterface } from './socket';

/** A membership to join or drop, judged: the group, its source (SSM) and the interface. */
export interface Membership {
  readonly group: ParsedIp;
  readonly source: ParsedIp | undefined;
  readonly choice: InterfaceChoice;
}

// Every check of addMembership, dropMembership and their source-specific forms; syscall names
// the method, for its argument names.
export function judgeMembership(family: 4 | 6, sourceAddress: string | undefined, groupAddress: string,
  multicastInterface: MulticastInterface | undefined, syscall: string): Membership {
  const sourceSpecific = syscall.includes('SourceSpecific');
  const groupName = sourceSpecific ? 'groupAddress' : 'multicastAddress';
  if (sourceSpecific && typeof sourceAddress !== 'string') throw invalidArgType('sourceAddress', 'of type string', sourceAddress);
  // dgram: a falsy group (a missing one too) is missing, for addMembership and dropMembership.
  if (!sourceSpecific && !groupAddress) throw missingArgs(groupName);
  if (typeof groupAddress !== 'string') throw invalidArgType(groupName, 'of type string', groupAddress);
  if (groupAddress === '') throw missingArgs(groupName);
  const group = ipArgument(groupAddress, groupName);
  if (group.family === 6 && family === 4) {
    throw invalidArgValue(groupName, groupAddress, 'must be an IPv4 address on a udp4 socket');
  }
  let source: ParsedIp | undefined;
  if (sourceAddress !== undefined) {
    source = ipArgument(sourceAddress, 'sourceAddress');
    if (source.family !== group.family) throw invalidArgValue('sourceAddress', sourceAddress, 'must be of the group\'s family');
  }
  const choice = interfaceChoice(multicastInterface, group.family, 'multicastInterface');
  return { group, source, choice };
}

export function writeMembership(records: Int32Array, membership: Membership): void {
  // Record 0: the group, its source and the interface index; record 1: the interface's address.
  records.fill(0, 0, 2 * binding.sendRecordStride);
  writeIp(records, SendRecord.Family, membership.group);
  if (membership.source !== undefined) writeIp(records, SendRecord.SourceFamily, membership.source);
  writeInterface(records, membership.choice, binding.sendRecordStride);
}

// An interface choice as the addon reads it: the index in record 0, an IPv4 address (or
// family 0) as the destination of the record that starts at word recordAt.
export function writeInterface(records: Int32Array, choice: InterfaceChoice, recordAt = 0): void {
  records[SendRecord.InterfaceIndex] = choice.index;
  if (choice.ipv4Address === undefined) records[recordAt + SendRecord.Family] = 0;
  else writeIp(records, recordAt + SendRecord.Family, choice.ipv4Address);
}
