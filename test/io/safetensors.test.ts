import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from '../../src/engine/io/safetensors.ts';

/** Build a file by hand: header JSON text (padded or not as given) followed by raw data bytes. */
function handBuilt(headerJson: string, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const header = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors writer', () => {
  it('matches safetensors (Python 0.8, numpy save) byte for byte: dtype-rank then name order, metadata, padding', () => {
    // Golden produced by: safetensors.numpy.save({...}, metadata={'format':'pt'}) with the same tensors.
    const goldenHeader =
      '{"__metadata__":{"format":"pt"},"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
      '"a.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[16,40]},"b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[40,64]},' +
      '"z.half":{"dtype":"F16","shape":[3],"data_offsets":[64,70]},"flag":{"dtype":"U8","shape":[3],"data_offsets":[70,73]}}   ';
    const goldenData = [
      7, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
      0, 0, 0, 128, 0, 0, 128, 191, 0, 0, 0, 192, 0, 0, 64, 192, 0, 0, 128, 192, 0, 0, 160, 192,
      0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
      0, 62, 0, 192, 0, 52, 1, 0, 1,
    ];
    const tensors: TensorToWrite[] = [
      { name: 'b.weight', dtype: 'F32', shape: [2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
      { name: 'a.weight', dtype: 'F32', shape: [3, 2], data: new Float32Array([-0, -1, -2, -3, -4, -5]) },
      { name: 'z.half', dtype: 'F16', shape: [3], data: new Uint16Array([0x3e00, 0xc000, 0x3400]) },
      { name: 'ids', dtype: 'I64', shape: [2], data: new BigInt64Array([7n, -1n]) },
      { name: 'flag', dtype: 'U8', shape: [3], data: new Uint8Array([1, 0, 1]) },
    ];
    const bytes = serializeSafetensors(tensors, { format: 'pt' });
    const expected = handBuilt(goldenHeader, new Uint8Array(goldenData));
    expect(Array.from(bytes)).toEqual(Array.from(expected));
    expect(goldenHeader.length % 8).toBe(0);
    const read = parseSafetensors(expected, 'python.safetensors');
    expect([...read.tensors.keys()]).toEqual(['ids', 'a.weight', 'b.weight', 'z.half', 'flag']);
    expect(read.tensors.get('ids')!.shape).toEqual([2]);
    expect(Array.from(new BigInt64Array(read.tensors.get('ids')!.data.slice().buffer))).toEqual([7n, -1n]);
  });

  it('matches the Rust crate test vectors (no metadata; empty file with metadata)', () => {
    const one = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]);
    expect(Array.from(one.subarray(0, 8))).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(one.subarray(8, 72))).toBe('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
    expect(Array.from(serializeSafetensors([]))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const meta = serializeSafetensors([], { framework: 'pt' });
    expect(new TextDecoder().decode(meta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it('round-trips through the reader with data aligned to the dtype', () => {
    const w = new Float32Array([1.5, -2.25, 3, 4, 5, 6, 7]);
    const h = new Uint16Array([1, 2, 3]);
    const bytes = serializeSafetensors([
      { name: 'h', dtype: 'BF16', shape: [3], data: h },
      { name: 'w', dtype: 'F32', shape: [7], data: w },
      { name: 'e', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ], { format: 'pt' });
    const parsed = parseSafetensors(bytes, 'rt.safetensors');
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect([...parsed.tensors.keys()]).toEqual(['e', 'w', 'h']);
    const tw = parsed.tensors.get('w')!;
    expect(tw.shape).toEqual([7]);
    expect(tw.data.byteOffset % 4).toBe(0);
    expect(Array.from(new Float32Array(tw.data.buffer, tw.data.byteOffset, 7))).toEqual(Array.from(w));
    const th = parsed.tensors.get('h')!;
    expect(th.dtype).toBe('BF16');
    expect(Array.from(new Uint16Array(th.data.slice().buffer))).toEqual([1, 2, 3]);
    expect(parsed.tensors.get('e')!.data.byteLength).toBe(0);
  });

  it('refuses wrong data length, duplicate names and unknown dtypes', () => {
    expect(() => serializeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(/"x".*8 bytes.*needs 12/);
    expect(() => serializeSafetensors([
      { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) },
      { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ])).toThrow(/duplicate/);
    expect(() => serializeSafetensors([{ name: 'x', dtype: 'Q4' as never, shape: [1], data: new Uint8Array(1) }])).toThrow(/unknown dtype/);
  });
});

describe('safetensors reader (hand-built files)', () => {
  it('reads a valid hand-built file with entries out of offset order and a metadata map', () => {
    const file = handBuilt(
      '{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt","k":"v"},' +
        '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      f32(1, 2, 3),
    );
    const p = parseSafetensors(file, 'ok.safetensors');
    expect(p.metadata).toEqual({ format: 'pt', k: 'v' });
    expect([...p.tensors.keys()]).toEqual(['a', 'b']);
    expect(Array.from(p.tensors.get('b')!.data)).toEqual(Array.from(f32(3)));
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /bad\.st: .*too short/],
    ['header length past the end', handBuilt('{}', new Uint8Array(0), 100n), /bad\.st: .*header length 100 runs past/],
    ['header length over the cap', handBuilt('{}', new Uint8Array(0), 200_000_000n), /bad\.st: .*exceeds/],
    ['JSON does not parse', handBuilt('{"a":', new Uint8Array(0)), /bad\.st: .*not valid JSON/],
    ['header is an array', handBuilt('[1]', new Uint8Array(0)), /bad\.st: .*not a JSON object/],
    ['unknown dtype', handBuilt('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /bad\.st: .*tensor "w": unknown dtype "Q4"/],
    ['fractional shape', handBuilt('{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": shape/],
    ['negative shape', handBuilt('{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": shape/],
    ['string shape', handBuilt('{"w":{"dtype":"U8","shape":"1","data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": shape/],
    ['missing offsets', handBuilt('{"w":{"dtype":"U8","shape":[1]}}', new Uint8Array(1)), /tensor "w": data_offsets/],
    ['offsets past the data', handBuilt('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32(1)), /tensor "w": .*run past the data area/],
    ['offsets reversed', handBuilt('{"w":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}', new Uint8Array(1)), /tensor "w": .*end before/],
    ['size mismatch', handBuilt('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32(1, 2)), /tensor "w": .*span 8 bytes but F32 \[3\] needs 12/],
    ['overlap', handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)), /tensor "b": .*overlap/],
    ['gap', handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32(1, 2, 3)), /tensor "b": gap/],
    ['trailing bytes', handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1, 2)), /bad\.st: .*trailing/],
    ['metadata value not a string', handBuilt('{"__metadata__":{"n":1}}', new Uint8Array(0)), /__metadata__\["n"\] is not a string/],
    ['metadata not an object', handBuilt('{"__metadata__":"x"}', new Uint8Array(0)), /__metadata__ is not an object/],
    ['entry not an object', handBuilt('{"w":[1]}', new Uint8Array(0)), /tensor "w": entry is not an object/],
    ['dtype missing', handBuilt('{"w":{"shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": dtype is missing/],
    ['sub-byte dtype', handBuilt('{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": dtype F4 \(sub-byte\)/],
    ['offsets not integers', handBuilt('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,"1"]}}', new Uint8Array(1)), /tensor "w": data_offsets .* not non-negative integers/],
    ['bad UTF-8', handBuilt('{}', new Uint8Array(0)).map((b, i) => (i === 9 ? 0xff : b)), /not valid UTF-8/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects: ${what}`, () => {
      expect(() => parseSafetensors(bytes, 'bad.st')).toThrow(message);
    });
  }
});
