// Argument conversion for the socket's methods: what a message is, ports, callbacks and sizes.
// Each check here decides once, before anything is sent; the addon checks types again only so
// that misuse of the native layer throws instead of crashing.
import { types } from 'util';

import { badPort, bufferOutOfBounds, invalidArgType, invalidArgValue, outOfRange } from './errors';
import { binding } from './native';

export type Chunks = Uint8Array | Uint8Array[];

const EMPTY = new Uint8Array(0);

// A view's bounds as the engine knows them. Its own properties may lie (a `byteLength` or
// `byteOffset` defined on the object): the getters of the prototypes read the internal slots.
type Getter<T> = (this: unknown) => T;
function intrinsicGetter<T>(prototype: object, name: string): Getter<T> {
  return Object.getOwnPropertyDescriptor(prototype, name)?.get as Getter<T>;
}
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayBuffer = intrinsicGetter<ArrayBufferLike>(typedArrayPrototype, 'buffer');
const typedArrayOffset = intrinsicGetter<number>(typedArrayPrototype, 'byteOffset');
const typedArrayLength = intrinsicGetter<number>(typedArrayPrototype, 'byteLength');
const dataViewBuffer = intrinsicGetter<ArrayBufferLike>(DataView.prototype, 'buffer');
const dataViewOffset = intrinsicGetter<number>(DataView.prototype, 'byteOffset');
const dataViewLength = intrinsicGetter<number>(DataView.prototype, 'byteLength');

/** The bytes a view (other than a Uint8Array) really covers. */
function viewBytes(view: ArrayBufferView): Uint8Array {
  if (types.isDataView(view)) {
    const buffer = dataViewBuffer.call(view);
    // A view whose buffer was transferred has no bytes: dgram sends an empty datagram for it,
    // and so does this. A DataView's getters throw when it is detached, or out of the bounds
    // of a resizable buffer that shrank: it has no bytes either.
    if (buffer.byteLength === 0) return EMPTY;
    let offset: number;
    let length: number;
    try {
      offset = dataViewOffset.call(view);
      length = dataViewLength.call(view);
    } catch {
      return EMPTY;
    }
    return new Uint8Array(buffer, offset, length);
  }
  // A typed array's getters say 0 when it is detached or out of bounds.
  const length = typedArrayLength.call(view);
  return length === 0 ? EMPTY : new Uint8Array(typedArrayBuffer.call(view), typedArrayOffset.call(view), length);
}

/** A Uint8Array's length as the engine knows it (an own `length` property may lie). */
function byteCount(bytes: Uint8Array): number {
  return typedArrayLength.call(bytes);
}

/**
 * The bytes of one buffer of a message. Only a real Uint8Array passes as itself: a Proxy of
 * one, or an object that merely has its prototype, is not a view the addon can read.
 */
function toBytes(value: unknown, name: string): Uint8Array {
  if (types.isUint8Array(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return viewBytes(value);
  throw invalidArgType(
    name,
    'of type string or an instance of Buffer, TypedArray, or DataView, or an array of them',
    value,
  );
}

/** A Uint8Array, or a gather list of them sent as one datagram (a fresh, dense array). */
export function toChunks(msg: unknown): Chunks {
  // dgram names the message 'buffer' in its errors.
  if (!isArray(msg)) return toBytes(msg, 'buffer');
  const length = msg.length;
  if (length > binding.maxGatherBuffers) {
    throw outOfRange('buffer.length', `<= ${binding.maxGatherBuffers} buffers in a gather list`, length);
  }
  const chunks = new Array<Uint8Array>(length);
  for (let i = 0; i < length; i++) chunks[i] = toBytes(msg[i], 'buffer');
  return chunks;
}

/** Array.isArray, false for a revoked Proxy (for which Array.isArray throws). */
export function isArray(value: unknown): value is unknown[] {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}

export function validatePort(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw invalidArgType(name, 'of type number', value);
  }
  const port = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw badPort(name === 'port' ? 'Port' : name, value, allowZero);
  }
  return port;
}

export function validateCallback<T extends (...args: never[]) => unknown>(value: unknown): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw invalidArgType('callback', 'of type function', value);
  return value as T;
}

/** dgram's rule for a buffer size: a positive 32-bit integer, else badSize(). */
export function validateBufferSize(value: unknown, badSize: () => Error): number {
  if (typeof value !== 'number' || value >>> 0 !== value || value === 0 || value > 0x7fffffff) throw badSize();
  return value;
}

export function validateCount(value: unknown, name: string, maximum = 0x7fffffff): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 1 || value > maximum) {
    throw outOfRange(name, `an integer >= 1 and <= ${maximum}`, value);
  }
  return value;
}

/** offset and length of dgram's send(msg, offset, length, ...) form, over one buffer. */
export function sliceChunks(chunks: Chunks, offset: unknown, length: unknown): Uint8Array {
  if (Array.isArray(chunks)) {
    throw invalidArgValue('buffer', chunks, 'must be a single buffer when offset and length are given');
  }
  if (typeof offset !== 'number') throw invalidArgType('offset', 'of type number', offset);
  if (typeof length !== 'number') throw invalidArgType('length', 'of type number', length);
  // dgram's checks and errors (its sliceBuffer).
  const size = byteCount(chunks);
  if (!Number.isInteger(offset) || offset < 0 || offset > size) throw bufferOutOfBounds('offset');
  if (!Number.isInteger(length) || length < 0 || offset + length > size) throw bufferOutOfBounds('length');
  return chunks.subarray(offset, offset + length);
}
