import { describe, expect, it } from '@jest/globals';
import { CborError, decodeCbor, RawText } from '../../../src/store/cbor.js';

const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const text = (s: string) => {
  const bytes = Buffer.from(s);
  if (bytes.length >= 24) throw new Error('short texts only');
  return Buffer.concat([Buffer.from([0x60 + bytes.length]), bytes]);
};

describe('decodeCbor', () => {
  it("decodes RFC 8949 Appendix A's examples", () => {
    const cases: [string, unknown][] = [
      ['00', 0],
      ['17', 23],
      ['1818', 24],
      ['1903e8', 1000],
      ['1a000f4240', 1000000],
      ['1b000000e8d4a51000', 1000000000000],
      ['20', -1],
      ['3903e7', -1000],
      ['f90000', 0],
      ['f93c00', 1],
      ['f9c400', -4],
      ['f97c00', Infinity],
      ['fa47c35000', 100000],
      ['fb3ff199999999999a', 1.1],
      ['f4', false],
      ['f5', true],
      ['f6', null],
      ['f7', undefined],
      ['6161', 'a'],
      ['62c3bc', 'ü'],
      ['83010203', [1, 2, 3]],
      ['a201020304', { '1': 2, '3': 4 }],
      ['a26161016162820203', { a: 1, b: [2, 3] }],
      ['7f657374726561646d696e67ff', 'streaming'],
      ['9f018202039f0405ffff', [1, [2, 3], [4, 5]]],
      ['bf61610161629f0203ffff', { a: 1, b: [2, 3] }],
      ['c074323031332d30332d32315432303a30343a30305a', '2013-03-21T20:04:00Z'],
      ['4401020304', hex('01020304')],
    ];
    for (const [input, expected] of cases)
      expect([input, decodeCbor(hex(input))]).toEqual([input, expected]);
    expect(decodeCbor(hex('f97e00'))).toBeNaN();
  });

  it("returns a raw key's text as its place in the input, other texts decoded", () => {
    const json = '{"id":"é\\"x"}';
    const body = Buffer.from(json);
    const input = Buffer.concat([
      hex('a2'),
      text('summary_json'),
      Buffer.from([0x78, body.length]),
      body,
      text('id'),
      text('a'),
    ]);
    const out = decodeCbor(input, new Set(['summary_json'])) as {
      summary_json: RawText;
      id: string;
    };
    expect(out.summary_json).toBeInstanceOf(RawText);
    const copy = Buffer.alloc(out.summary_json.length);
    out.summary_json.copyTo(copy, 0);
    expect(copy.toString()).toBe(json);
    expect(out.id).toBe('a');
    // The same keys again (interned) decode the same.
    expect(decodeCbor(input)).toEqual({ summary_json: json, id: 'a' });
  });

  it('keeps a raw text that came in chunks', () => {
    const input = Buffer.concat([
      hex('a1'),
      text('k'),
      hex('7f'),
      text('ab'),
      text('c'),
      hex('ff'),
    ]);
    const out = decodeCbor(input, new Set(['k'])) as { k: RawText };
    const copy = Buffer.alloc(out.k.length);
    out.k.copyTo(copy, 0);
    expect(copy.toString()).toBe('abc');
  });

  it('makes "__proto__" an own key, as JSON.parse does', () => {
    const out = decodeCbor(
      Buffer.concat([hex('a1'), text('__proto__'), hex('a1'), text('x'), hex('01')]),
    );
    expect(out).toEqual(JSON.parse('{"__proto__":{"x":1}}'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out as object)).toEqual(['__proto__']);
  });

  it('refuses malformed input', () => {
    for (const input of [
      '',
      '19',
      '62c3',
      '83 0102',
      'ff',
      '9f01',
      'a1 6161',
      '1c',
      '5f 61 61 ff',
      '0000',
    ]) {
      expect(() => decodeCbor(hex(input))).toThrow(CborError);
    }
  });
});
