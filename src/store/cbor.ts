/**
 * A decoder for the CBOR (RFC 8949) that Elasticsearch sends when asked for it
 * (`Accept: application/vnd.elasticsearch+cbor`): the search reader's responses (ADR 0017, fourth
 * addendum). CBOR carries a text string as its length and its UTF-8 bytes, unescaped, so a text
 * stored as ready-made JSON (`summary_json`) can be copied from the response's bytes as it is: no
 * JSON.parse, no unescaping, no UTF-8 decoding and encoding again. No CBOR library hands out a
 * text's place in the input instead of a decoded string, which is the point here: hence this one.
 *
 * Everything in RFC 8949's data model decodes: integers (beyond 2^53 to the nearest double, as
 * JSON.parse does), byte and text strings, arrays and maps of definite or indefinite length, tags
 * (their content; the tag is dropped), simple values and floats of 16, 32 and 64 bits. Map keys are
 * strings (a key of another type is converted with `String`). Malformed input throws
 * `CborError`.
 */

export class CborError extends Error {
  constructor(message: string) {
    super(`malformed CBOR: ${message}`);
    this.name = 'CborError';
  }
}

/** A text string left undecoded: its UTF-8 bytes are `source[start, end)`. */
export class RawText {
  constructor(
    readonly source: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  /** Copies the bytes into `target` at `at`; returns the offset after them. */
  copyTo(target: Buffer, at: number): number {
    return at + this.source.copy(target, at, this.start, this.end);
  }
}

const BREAK = Symbol('break');

/**
 * Map keys decoded before, by a hash of their bytes: a response repeats a handful of keys once per
 * hit, and a string made once per key instead of once per occurrence is garbage not made.
 */
const KEYS = new Map<number, { bytes: Buffer; text: string }>();
const MAX_KEY_BYTES = 32;
const MAX_KEYS = 512;

function internedKey(buf: Buffer, start: number, end: number): string {
  let hash = end - start;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + (buf[i] ?? 0)) | 0;
  const known = KEYS.get(hash);
  if (known && known.bytes.length === end - start) {
    let same = true;
    for (let i = start; i < end && same; i++) same = known.bytes[i - start] === buf[i];
    if (same) return known.text;
  }
  const text = buf.toString('utf8', start, end);
  if (KEYS.size < MAX_KEYS && !known) {
    KEYS.set(hash, { bytes: Buffer.from(buf.subarray(start, end)), text });
  }
  return text;
}

/**
 * Decodes the one CBOR item `buf` holds. The text value of a map key in `rawKeys` is returned as a
 * `RawText` (its place in `buf`, or in a copy when the text came in chunks) instead of a string.
 */
export function decodeCbor(buf: Buffer, rawKeys: ReadonlySet<string> = new Set()): unknown {
  let pos = 0;

  function need(bytes: number): void {
    if (pos + bytes > buf.length) throw new CborError(`truncated at byte ${pos}`);
  }

  /** Moves past the next `bytes` bytes; returns where they start. */
  function take(bytes: number): number {
    need(bytes);
    pos += bytes;
    return pos - bytes;
  }

  /** The argument of a head whose additional information is `info` (RFC 8949 §3). */
  function argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return buf.readUInt8(take(1));
      case 25:
        return buf.readUInt16BE(take(2));
      case 26:
        return buf.readUInt32BE(take(4));
      case 27:
        return Number(buf.readBigUInt64BE(take(8)));
      default:
        throw new CborError(`reserved additional information ${info} at byte ${pos - 1}`);
    }
  }

  /** A definite-length string's bytes, as a view. */
  function bytes(length: number): Buffer {
    const start = take(length);
    return buf.subarray(start, pos);
  }

  /** The chunks of an indefinite-length string of major type `major`, concatenated. */
  function chunks(major: number): Buffer {
    const parts: Buffer[] = [];
    for (;;) {
      const head = buf.readUInt8(take(1));
      if (head === 0xff) return Buffer.concat(parts);
      if (head >> 5 !== major || (head & 31) === 31) {
        throw new CborError(`bad chunk in an indefinite string at byte ${pos - 1}`);
      }
      parts.push(bytes(argument(head & 31)));
    }
  }

  function item(raw: boolean): unknown {
    const head = buf.readUInt8(take(1));
    const major = head >> 5;
    const info = head & 31;
    if (info === 31) {
      switch (major) {
        case 2:
          return chunks(2);
        case 3: {
          const text = chunks(3);
          return raw ? new RawText(text, 0, text.length) : text.toString('utf8');
        }
        case 4: {
          const out: unknown[] = [];
          for (let value = item(false); value !== BREAK; value = item(false)) out.push(value);
          return out;
        }
        case 5:
          return map(Infinity);
        case 7:
          return BREAK;
        default:
          throw new CborError(`indefinite length for major type ${major} at byte ${pos - 1}`);
      }
    }
    switch (major) {
      case 0:
        return argument(info);
      case 1:
        return -1 - argument(info);
      case 2:
        return bytes(argument(info));
      case 3: {
        const start = take(argument(info));
        return raw ? new RawText(buf, start, pos) : buf.toString('utf8', start, pos);
      }
      case 4: {
        const length = argument(info);
        const out: unknown[] = [];
        for (let i = 0; i < length; i++) out.push(value());
        return out;
      }
      case 5:
        return map(argument(info));
      case 6:
        argument(info);
        return value();
      default:
        return simple(info);
    }
  }

  /** An item that must not be a break. */
  function value(raw = false): unknown {
    const out = item(raw);
    if (out === BREAK) throw new CborError(`unexpected break at byte ${pos - 1}`);
    return out;
  }

  function map(length: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < length; i++) {
      const key = mapKey();
      if (key === BREAK) {
        if (length === Infinity) return out;
        throw new CborError(`unexpected break at byte ${pos - 1}`);
      }
      const name = typeof key === 'string' ? key : String(key);
      const entry = value(rawKeys.has(name));
      // An own property, as JSON.parse makes, never the prototype.
      if (name === '__proto__') {
        Object.defineProperty(out, name, { value: entry, enumerable: true, writable: true });
      } else out[name] = entry;
    }
    return out;
  }

  /** A map key: a short definite text is interned, anything else decoded as an item. */
  function mapKey(): unknown {
    need(1);
    const head = buf.readUInt8(pos);
    if (head >> 5 === 3 && (head & 31) !== 31) {
      pos += 1;
      const start = take(argument(head & 31));
      return pos - start <= MAX_KEY_BYTES
        ? internedKey(buf, start, pos)
        : buf.toString('utf8', start, pos);
    }
    return item(false);
  }

  function simple(info: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24:
        take(1);
        return undefined;
      case 25:
        return halfFloat(buf.readUInt16BE(take(2)));
      case 26:
        return buf.readFloatBE(take(4));
      case 27:
        return buf.readDoubleBE(take(8));
      default:
        if (info < 20) return undefined;
        throw new CborError(`reserved simple value ${info} at byte ${pos - 1}`);
    }
  }

  const out = value();
  if (pos !== buf.length) throw new CborError(`${buf.length - pos} bytes after the item`);
  return out;
}

/** An IEEE 754 half-precision float (RFC 8949 Appendix D). */
function halfFloat(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const magnitude =
    exponent === 0
      ? mantissa * 2 ** -24
      : exponent === 31
        ? mantissa === 0
          ? Infinity
          : NaN
        : (mantissa + 1024) * 2 ** (exponent - 25);
  return half & 0x8000 ? -magnitude : magnitude;
}
