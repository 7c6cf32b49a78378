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
  detail?: string,
): SystemError {
  let message = `${syscall} ${info.code}`;
  if (address !== undefined) message += port ? ` ${address}:${port}` : ` ${address}`;
  if (detail !== undefined) message += `: ${detail}`;
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
    let name: unknown;
    try {
      name = (value as object).constructor?.name;
    } catch {
      // a revoked Proxy throws on every read
    }
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object';
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

// Node's negative errno for a code on this platform (libuv's UV_E* value).
const errnoByCode = new Map<string, number>();
for (const [errno, [name]] of getSystemErrorMap()) errnoByCode.set(name, errno);

/** A system error that no system call gave, in the same shape: EBADF, EINVAL, ENOBUFS. */
export function errnoError(code: string, syscall: string, detail?: string): SystemError {
  const errno = errnoByCode.get(code) ?? 0;
  return systemError({ code, errno, osErrno: -errno }, syscall, undefined, undefined, detail);
}

/**
 * A send past the send queue's bound: ENOBUFS, the code the kernel gives when its own queue
 * is full, so a program that handles that one handles this too.
 */
export function queueFull(limit: number): SystemError {
  return errnoError('ENOBUFS', 'send', `the send queue is full (${limit} datagrams wait)`);
}

export function isConnected(): Error {
  return codedError(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
}

export function notConnected(): Error {
  return codedError(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
}

export function badBufferSize(): TypeError {
  return codedError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
}

/** dgram's ERR_SOCKET_BUFFER_SIZE: a SystemError around the failed call. */
export function bufferSizeError(cause: SystemError): Error {
  const error = codedError(Error, 'ERR_SOCKET_BUFFER_SIZE',
    `Could not get or set buffer size: ${cause.syscall} returned ${cause.code}`) as unknown as Error & { info: unknown; errno: number; syscall: string };
  error.info = { errno: cause.errno, code: cause.code, message: cause.message, syscall: cause.syscall };
  error.errno = cause.errno;
  error.syscall = cause.syscall;
  return error;
}

export function bufferOutOfBounds(name: string): RangeError {
  return codedError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', `"${name}" is outside of buffer bounds`);
}

export function missingArgs(name: string): TypeError {
  return codedError(TypeError, 'ERR_MISSING_ARGS', `The "${name}" argument must be specified`);
}
