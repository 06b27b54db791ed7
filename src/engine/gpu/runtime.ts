// The GPU runtime every kernel goes through: pipelines cached by (source, entry, constants) with
// readable compile errors, buffers, uploads, readback, and a Step that records many dispatches into
// one compute pass and one submit.
import { acquireDevice, type DeviceInfo } from './device';

export type Tensor = GPUBuffer;


export class Gpu {
  readonly device: GPUDevice;
  readonly info: DeviceInfo;
  // Keyed by the source string itself first: hashing a long WGSL text is cached per string object,
  // while building a concatenated key on every call re-hashed the whole source (17 ms a decode step).
  private pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  private bindGroups = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
  private uniforms = new Map<string, GPUBuffer>();
  private ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** bytes of storage buffers made through buffer(): WebGPU has no memory query, so we count our own */
  allocatedBytes = 0;
  /** set when the device is lost: every later call fails with this reason */
  lostReason: string | null = null;

  private constructor(device: GPUDevice, info: DeviceInfo) {
    this.device = device;
    this.info = info;
    device.lost.then((l) => {
      this.lostReason = `GPU device lost (${l.reason}): ${l.message}`;
    });
  }

  private static sharedInstance: Promise<Gpu> | null = null;

  /** One device per process, created on first use: the CLI's commands and the tests share it and its compiled pipelines. */
  static shared(): Promise<Gpu> {
    return (Gpu.sharedInstance ??= Gpu.create());
  }

  static async create(powerPreference: GPUPowerPreference = 'high-performance'): Promise<Gpu> {
    const { device, info } = await acquireDevice(powerPreference);
    return new Gpu(device, info);
  }

  /** GPUBufferUsage is a global only once Dawn's globals are installed (in Node): read it late. */
  get usage(): typeof GPUBufferUsage {
    return (globalThis as any).GPUBufferUsage;
  }

  /** A compute pipeline, compiled once per (source, entry point, override constants). */
  async pipeline(code: string, entryPoint = 'main', constants: Record<string, number> = {}): Promise<GPUComputePipeline> {
    let perSource = this.pipelines.get(code);
    if (!perSource) this.pipelines.set(code, (perSource = new Map()));
    const key = entryPoint + '|' + JSON.stringify(constants);
    const cached = perSource.get(key);
    if (cached) return cached;
    // createComputePipelineAsync aborts the process in Dawn's Node binding (0.6.x): use the sync
    // form inside an error scope, which reports the same errors.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint, constants } });
    const err = await this.device.popErrorScope();
    if (err) throw new Error(await compileReport(module, entryPoint, err.message));
    perSource.set(key, pipeline);
    return pipeline;
  }

  /** A storage buffer of `bytes` (rounded up to 4), optionally filled. */
  buffer(bytes: number, label = '', data?: ArrayBufferView): GPUBuffer {
    const U = this.usage;
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const max = this.info.limits.maxBufferSize;
    if (size > max) throw new Error(`buffer ${label} needs ${size} bytes, above this GPU's maxBufferSize ${max}`);
    const buf = this.device.createBuffer({ size, label, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    this.allocatedBytes += size;
    if (data) this.upload(buf, data);
    return buf;
  }

  upload(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0) {
    // writeBuffer wants a multiple of 4 bytes
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) this.device.queue.writeBuffer(buf, offsetBytes, bytes);
    else {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buf, offsetBytes, padded);
    }
  }

  /** A uniform buffer of 32-bit words, shared by every caller with the same contents. */
  uniform(words: ArrayLike<number>, kind: 'u32' | 'f32' | 'mixed' = 'u32', floats?: ArrayLike<number>): GPUBuffer {
    const key = `${kind}:${Array.from(words).join(',')}:${floats ? Array.from(floats).join(',') : ''}`;
    let buf = this.uniforms.get(key);
    if (buf) return buf;
    const n = words.length + (floats?.length ?? 0);
    const data = new ArrayBuffer(Math.max(16, Math.ceil((n * 4) / 16) * 16));
    if (kind === 'f32') new Float32Array(data).set(Array.from(words));
    else new Uint32Array(data).set(Array.from(words));
    if (floats) new Float32Array(data, words.length * 4, floats.length).set(Array.from(floats));
    const U = this.usage;
    buf = this.device.createBuffer({ size: data.byteLength, usage: U.UNIFORM | U.COPY_DST, label: `uniform ${key.slice(0, 40)}` });
    this.device.queue.writeBuffer(buf, 0, new Uint8Array(data));
    this.uniforms.set(key, buf);
    return buf;
  }

  /** Bind group for buffers at bindings 0..n-1 of group 0, cached per pipeline and buffer identity. */
  bindGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
    let perPipeline = this.bindGroups.get(pipeline);
    if (!perPipeline) this.bindGroups.set(pipeline, (perPipeline = new Map()));
    const key = buffers.map((b) => this.id(b)).join(',');
    let group = perPipeline.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      perPipeline.set(key, group);
    }
    return group;
  }

  private id(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) this.ids.set(b, (id = this.nextId++));
    return id;
  }

  /** Starts recording a step: many dispatches, one pass, one submit. */
  step(label = 'step'): Step {
    if (this.lostReason) throw new Error(this.lostReason);
    return new Step(this, label);
  }

  /** Copies a buffer back to the CPU. Stalls the queue: call it rarely. */
  async read(buf: GPUBuffer, bytes = buf.size, offsetBytes = 0): Promise<ArrayBuffer> {
    const U = this.usage;
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: U.MAP_READ | U.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, offsetBytes, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync((globalThis as any).GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readF32(buf: GPUBuffer, count?: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, (count ?? buf.size / 4 - offset) * 4, offset * 4));
  }

  /** Fills a buffer with a 32-bit pattern (tests poison outputs with NaN before a kernel runs). */
  fill(buf: GPUBuffer, value: number) {
    const words = new Float32Array(buf.size / 4).fill(value);
    this.device.queue.writeBuffer(buf, 0, words);
  }

  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    if (this.lostReason) throw new Error(this.lostReason);
  }

  destroy() {
    this.device.destroy();
  }
}

export class Step {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  dispatches = 0;

  constructor(private gpu: Gpu, label: string) {
    this.encoder = gpu.device.createCommandEncoder({ label });
  }

  dispatch(pipeline: GPUComputePipeline, buffers: GPUBuffer[], x: number, y = 1, z = 1) {
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.gpu.info.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${max}`);
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, this.gpu.bindGroup(pipeline, buffers));
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  /** Buffer copies end the compute pass; the next dispatch opens a new one. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number) {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  clear(buf: GPUBuffer, offset = 0, bytes?: number) {
    this.endPass();
    this.encoder.clearBuffer(buf, offset, bytes);
  }

  private endPass() {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  submit() {
    this.endPass();
    this.gpu.device.queue.submit([this.encoder.finish()]);
  }
}

async function compileReport(module: GPUShaderModule, entry: string, fallback: string): Promise<string> {
  const info = await module.getCompilationInfo?.();
  const errors = (info?.messages ?? []).filter((m) => m.type === 'error');
  if (!errors.length) return `WGSL pipeline '${entry}' failed: ${fallback}`;
  return `WGSL compile error in '${entry}':\n` + errors.map((m) => `  line ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
}
