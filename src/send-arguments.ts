// The judging of a send's arguments, before anything is sent: dgram's positional forms of
// send(), and every check of a send (the message, the port, both addresses, the interface and
// the callback), into a PendingSend for the send queue or a NamedSend that waits for a lookup.
import { isHostName, parseIp } from './address';
import { Chunks, sliceChunks, toChunks, validateCallback, validatePort } from './arguments';
import { invalidArgType, invalidArgValue, isConnected } from './errors';
import { selectedIndex } from './interfaces';
import { PendingSend, SendCallback, pendingSend } from './send-queue';
import { Destination, makeDestination, sourceArgument } from './send-record';
import type { SendOptions } from './socket';

// A send whose destination is a host name: it waits for the lookup, in its place among sends.
export interface NamedSend {
  readonly chunks: Chunks;
  readonly hostname: string;
  /** The family to look the name up in: the source's, or the socket's. */
  readonly family: 4 | 6;
  readonly port: number;
  readonly localAddress: string | undefined;
  readonly interfaceIndex: number | undefined;
  readonly callback: SendCallback | undefined;
}

/** What a SendJudge reads of its socket, at the moment it judges. */
export interface SendJudgeHost {
  /** Throws unless the socket is open (ERR_SOCKET_DGRAM_NOT_RUNNING). */
  openHandle(): void;
  /** The connected peer, or undefined. */
  readonly connectedTo: Destination | undefined;
}

/** Judges the sends of one socket, and keeps the destination of its last one. */
export class SendJudge {
  // The destination of the last send to an IP literal, judged: a server sends to the same few
  // peers from the same few addresses, and a send that names the same ones uses it as it is.
  private lastDestination: Destination | undefined;

  constructor(private readonly family: 4 | 6, private readonly host: SendJudgeHost) {}

  // send()'s forms: dgram's positional ones, or (msg, options, callback).
  parseSendArguments(msg: unknown, args: unknown[]): PendingSend | NamedSend {
    const [first] = args;
    if (typeof first === 'object' && first !== null) return this.judgeSend(msg, first as SendOptions, args[1]);
    this.host.openHandle();
    let chunks: Chunks = toChunks(msg);
    let options: SendOptions;
    let callback: unknown;
    const connected = this.host.connectedTo !== undefined;
    if (connected) {
      // send(msg, cb?) or send(msg, offset, length, cb?). A port (and address) is refused:
      // dgram would take send(msg, port) as send(msg) and never call back.
      if (typeof first === 'number' && typeof args[1] !== 'number') throw isConnected();
      if (typeof args[1] === 'number') {
        chunks = sliceChunks(chunks, args[0], args[1]);
        callback = args[2];
        if (args[3] !== undefined && typeof args[2] !== 'function') throw isConnected();
      } else {
        callback = args[0];
      }
      options = {};
    } else if (args.length >= 3 && typeof args[2] === 'number') {
      // send(msg, offset, length, port, address?, callback?)
      chunks = sliceChunks(chunks, args[0], args[1]);
      options = { port: args[2] as number };
      if (typeof args[3] === 'function') callback = args[3];
      else {
        options.address = args[3] as string | undefined;
        callback = args[4];
      }
    } else {
      options = { port: first as number };
      if (typeof args[1] === 'function') callback = args[1];
      else {
        options.address = args[1] as string | undefined;
        callback = args[2];
      }
    }
    return this.judge(chunks, options, callback);
  }

  // Every check of a send, before anything is sent: the message, the port, both addresses
  // (parsed once, here), the interface and the callback. A host name is looked up later.
  judgeSend(msg: unknown, options: SendOptions, callback: unknown): PendingSend | NamedSend {
    this.host.openHandle();
    return this.judge(toChunks(msg), options, callback);
  }

  // The checks after the socket's and the message's, shared by both forms.
  private judge(chunks: Chunks, options: SendOptions, callback: unknown): PendingSend | NamedSend {
    const connected = this.host.connectedTo !== undefined;
    const validCallback = validateCallback<SendCallback>(callback);
    const localAddress = options.localAddress ?? undefined;
    const index = selectedIndex(options);
    const interfaceIndex = options.interfaceIndex === undefined && options.interfaceName === undefined ? undefined : index;
    if (connected) {
      if (options.port !== undefined || options.address !== undefined) throw isConnected();
      const peer = this.host.connectedTo as Destination;
      const destination = makeDestination(this.family, peer.port, peer.address, localAddress, interfaceIndex);
      return pendingSend(chunks, { ...destination, connected: true }, validCallback);
    }
    const port = validatePort(options.port, 'Port', false);
    // dgram takes a missing (undefined or null) or empty address as loopback, and refuses any
    // other value that is no string (0 and false too).
    const given = options.address;
    const address = given === undefined || given === null || given === '' ? (this.family === 6 ? '::1' : '127.0.0.1') : given;
    if (typeof address !== 'string') throw invalidArgType('address', 'of type string', address);
    const last = this.lastDestination;
    if (last !== undefined && last.address === address && last.port === port &&
        last.localAddress === localAddress && last.interfaceIndex === (interfaceIndex ?? 0)) {
      return pendingSend(chunks, last, validCallback);
    }
    if (parseIp(address) === null && isHostName(address)) {
      // Judged now all the same; the name is then looked up in the source's family.
      let family = this.family;
      if (localAddress !== undefined) {
        family = sourceArgument(localAddress).family;
        if (family === 6 && this.family === 4) {
          throw invalidArgValue('localAddress', localAddress, 'must be an IPv4 address on a udp4 socket');
        }
      }
      return { chunks, hostname: address, family, port, localAddress, interfaceIndex, callback: validCallback };
    }
    const destination = makeDestination(this.family, port, address, localAddress, interfaceIndex);
    // A zone by name is looked up at each send (interfaces are renamed): such a one is not kept.
    if (destination.ip.zoneName === undefined && destination.source?.zoneName === undefined) {
      this.lastDestination = destination;
    }
    return pendingSend(chunks, destination, validCallback);
  }
}
