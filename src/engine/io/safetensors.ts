// Strict safetensors reader and writer (format: huggingface/safetensors, `safetensors/src/tensor.rs`).
//
// File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
//   { "__metadata__"?: {string: string}, name: {dtype, shape, data_offsets: [begin, end]} ... }
// then the data area; offsets are relative to the start of the data area.
//
// The reader refuses anything the Rust library would refuse (and a little more): a header longer than the file
// or than 100 MB, JSON that does not parse or is not an object, unknown dtypes, non-integer shapes, offsets
// outside the data area or inconsistent with dtype size × shape, overlapping entries, and gaps (the entries,
// sorted by offset, must tile the data area exactly). Every error names the file and, where there is one,
// the tensor.
//
// The writer reproduces the Python/Rust library byte for byte: tensors sorted by descending dtype rank (the
// Rust `Dtype` enum order, which is increasing alignment) then by name, `__metadata__` first, compact JSON,
// header padded with spaces to a multiple of 8 bytes so every tensor's data is aligned.

export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'F8_E8M0' | 'I16' | 'U16' | 'F16' | 'BF16'
  | 'I32' | 'U32' | 'F32' | 'C64' | 'F64' | 'I64' | 'U64';

/** Bytes per element, in the order of the Rust `Dtype` enum (the order the writer sorts by). */
const DTYPES: [SafetensorsDtype, number][] = [
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['F8_E8M0', 1],
  ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2], ['I32', 4], ['U32', 4], ['F32', 4],
  ['C64', 8], ['F64', 8], ['I64', 8], ['U64', 8],
];
const DTYPE_SIZE = new Map<string, number>(DTYPES);
const DTYPE_RANK = new Map<string, number>(DTYPES.map(([d], i) => [d, i]));
/** Sub-byte types the Rust library knows but this reader cannot slice into whole-byte views. */
const SUB_BYTE_DTYPES = new Set(['F4', 'F6_E2M3', 'F6_E3M2']);

/** Same cap as the Rust library (MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorData {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes. From the reader: a view into the file's bytes (no copy). */
  data: Uint8Array;
}

export interface ParsedSafetensors {
  metadata: Record<string, string>;
  /** In file (offset) order. */
  tensors: Map<string, TensorData>;
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array | ArrayBufferView;
}

export function dtypeSize(dtype: string): number {
  const size = DTYPE_SIZE.get(dtype);
  if (size === undefined) throw new Error(`unknown safetensors dtype ${JSON.stringify(dtype)}`);
  return size;
}

function elementCount(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function parseSafetensors(bytes: Uint8Array, fileName: string): ParsedSafetensors {
  const fail = (what: string): never => {
    throw new Error(`${fileName}: invalid safetensors file: ${what}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen64} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
  const headerLen = Number(headerLen64);
  if (8 + headerLen > bytes.byteLength) {
    fail(`header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);
  }

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__[${JSON.stringify(k)}] is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (what: string): never => fail(`tensor ${JSON.stringify(name)}: ${what}`);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('entry is not an object');
    const info = raw as Record<string, unknown>;
    // Unknown extra fields are ignored, as serde (the Rust reader) ignores them.
    const dtype = info.dtype;
    if (typeof dtype !== 'string') bad('dtype is missing or not a string');
    if (SUB_BYTE_DTYPES.has(dtype as string)) bad(`dtype ${dtype} (sub-byte) is not supported`);
    if (!DTYPE_SIZE.has(dtype as string)) bad(`unknown dtype ${JSON.stringify(dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape)) bad('shape is missing or not an array');
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) bad(`shape ${JSON.stringify(shape)} has a non-integer or negative dimension`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) bad('data_offsets is missing or not a pair');
    const [begin, end] = offsets as unknown[];
    if (typeof begin !== 'number' || !Number.isSafeInteger(begin) || begin < 0 ||
        typeof end !== 'number' || !Number.isSafeInteger(end) || end < 0) {
      bad(`data_offsets ${JSON.stringify(offsets)} are not non-negative integers`);
    }
    if ((end as number) < (begin as number)) bad(`data_offsets ${JSON.stringify(offsets)} end before they begin`);
    if ((end as number) > dataLen) bad(`data_offsets ${JSON.stringify(offsets)} run past the data area (${dataLen} bytes)`);
    const expected = elementCount(shape as number[]) * DTYPE_SIZE.get(dtype as string)!;
    if ((end as number) - (begin as number) !== expected) {
      bad(`data_offsets ${JSON.stringify(offsets)} span ${(end as number) - (begin as number)} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: begin as number, end: end as number });
  }

  // Entries sorted by offset must tile [0, dataLen) with no overlap and no gap.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) fail(`tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${cursor})`);
    if (e.begin > cursor) fail(`tensor ${JSON.stringify(e.name)}: gap of ${e.begin - cursor} unused bytes before its data_offsets [${e.begin}, ${e.end}]`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`tensors cover ${cursor} bytes but the data area holds ${dataLen} (trailing bytes)`);

  const tensors = new Map<string, TensorData>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: bytes.subarray(dataStart + e.begin, dataStart + e.end) });
  }
  return { metadata, tensors };
}

function asBytes(data: Uint8Array | ArrayBufferView): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Serialise tensors the way `safetensors.torch.save_file` does. Pass metadata `{format: 'pt'}` for files that
 * PyTorch-side tools (PEFT, transformers) load.
 */
export function serializeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw new Error('serializeSafetensors: a tensor may not be named __metadata__');
    if (seen.has(t.name)) throw new Error(`serializeSafetensors: duplicate tensor name ${JSON.stringify(t.name)}`);
    seen.add(t.name);
    if (!DTYPE_SIZE.has(t.dtype)) throw new Error(`serializeSafetensors: tensor ${JSON.stringify(t.name)}: unknown dtype ${JSON.stringify(t.dtype)}`);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`serializeSafetensors: tensor ${JSON.stringify(t.name)}: bad shape ${JSON.stringify(t.shape)}`);
    }
    const want = elementCount(t.shape) * DTYPE_SIZE.get(t.dtype)!;
    if (asBytes(t.data).byteLength !== want) {
      throw new Error(`serializeSafetensors: tensor ${JSON.stringify(t.name)}: ${asBytes(t.data).byteLength} bytes of data but ${t.dtype} ${JSON.stringify(t.shape)} needs ${want}`);
    }
  }
  // Rust: data.sort_by(|(ln, l), (rn, r)| r.dtype().cmp(&l.dtype()).then(ln.cmp(rn))) — names compare as bytes.
  const utf8 = new TextEncoder();
  const byteCompare = (a: string, b: string): number => {
    const x = utf8.encode(a), y = utf8.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const sorted = [...tensors].sort((a, b) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || byteCompare(a.name, b.name));

  // Build the JSON by hand to control key order ({dtype, shape, data_offsets} as serde emits them).
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`serializeSafetensors: metadata ${JSON.stringify(k)} is not a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of sorted) {
    const n = asBytes(t.data).byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  let header = utf8.encode(`{${parts.join(',')}}`);
  const pad = (8 - (header.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(header.length + pad).fill(0x20);
    padded.set(header);
    header = padded;
  }

  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const t of sorted) {
    const b = asBytes(t.data);
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
