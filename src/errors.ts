// Errors in Node's shapes: argument errors with Node's ERR_* codes, and system errors with
// code, negative errno, syscall, address and port, as dgram's are.
import { getSystemErrorMap } from 'util';

/** What the addon reports for an OS error; the same code for the same failure on every OS. */
export interface NativeErrorInfo {
  code: string;
  errno: number;
  osErrno: number;
  /** The socket is only full for now (EAGAIN, EWOULDBLOCK, ENOBUFS): queue and retry. */
  retry?: boolean;
}

/** A failed system call, shaped like Node's own (`err.code === 'EMSGSIZE'`). */
export interface SystemError extends Error {
  code: string;
  /** Node's negative errno: libuv's UV_E* value for `code` on this platform. */
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  /** The raw OS number: errno on POSIX, the Winsock code (WSAE*) on Windows. */
  osErrno: number;
}

export function systemError(
  info: NativeErrorInfo,
  syscall: string,
  address?: string,
  port?: number,
): SystemError {
  let message = `${syscall} ${info.code}`;
  if (address !== undefined) message += port ? ` ${address}:${port}` : ` ${address}`;
  const error = new Error(message) as SystemError;
  error.errno = info.errno;
  error.code = info.code;
  error.syscall = syscall;
  if (address !== undefined) error.address = address;
  if (port !== undefined) error.port = port;
  error.osErrno = info.osErrno;
  return error;
}

type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

function codedError(Class: ErrorClass, code: string, message: string): Error & { code: string } {
  const error = new Class(message) as Error & { code: string };
  error.code = code;
  return error;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  let shown = String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  if (typeof value === 'string') shown = `'${shown}'`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  return codedError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError {
  return codedError(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The argument '${name}' ${reason}. Received ${describe(value)}`,
  );
}

export function invalidIpAddress(name: string, value: string): TypeError {
  return codedError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address for "${name}": ${value}`);
}

export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return codedError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`,
  );
}

export function badPort(name: string, value: unknown, allowZero: boolean): RangeError {
  return codedError(
    RangeError,
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describe(value)}.`,
  );
}

export function badSocketType(value: unknown): TypeError {
  return codedError(
    TypeError,
    'ERR_SOCKET_BAD_TYPE',
    `Bad socket type specified. Valid types are: udp4, udp6. Received ${describe(value)}`,
  );
}

export function notRunning(): Error {
  return codedError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
}

export function alreadyBound(): Error {
  return codedError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
}

export function closedBeforeSent(): Error {
  return codedError(
    Error,
    'ERR_SOCKET_CLOSED',
    'The socket was closed before the datagram could be sent',
  );
}

// Node's negative errno for ENOBUFS on this platform (libuv's UV_ENOBUFS).
const ENOBUFS_ERRNO = (() => {
  for (const [errno, [name]] of getSystemErrorMap()) {
    if (name === 'ENOBUFS') return errno;
  }
  return -105;
})();

/**
 * A send past the send queue's bound: ENOBUFS, the code the kernel gives when its own queue
 * is full, so a program that handles that one handles this too.
 */
export function queueFull(limit: number): Error & { code: string; errno: number; syscall: string } {
  const error = new Error(`send ENOBUFS: the send queue is full (${limit} datagrams wait)`) as
    Error & { code: string; errno: number; syscall: string };
  error.code = 'ENOBUFS';
  error.errno = ENOBUFS_ERRNO;
  error.syscall = 'send';
  return error;
}
