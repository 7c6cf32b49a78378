// sendmsg: UDP sockets that report where each datagram arrived and choose where replies
// leave from. See README.md.
export {
  Socket,
  createSocket,
  sendmsg,
} from './socket';
export { listInterfaces } from './interfaces';
export type { InterfaceAddress, InterfaceSelector, NetworkInterface } from './interfaces';
export type {
  BatchCallback,
  BatchMessage,
  BindOptions,
  LookupFunction,
  Message,
  MulticastInterface,
  RemoteInfo,
  SendCallback,
  SendOptions,
  SocketOptions,
  SocketType,
} from './socket';
export type { SystemError } from './errors';
import { binding } from './native';

/** Which backend this build uses: 'linux', 'darwin', 'freebsd', 'win32', ... */
export const backend: string = binding.backend;
