// Finds a WebGPU device: navigator.gpu in a browser or worker, the `webgpu` package (Dawn) in Node.
// Always asks for the adapter's real limits: the defaults (128 MiB bindings, 16 KiB workgroup memory)
// are far below what a model needs.

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  /** true when Node fell back to SwiftShader: correct but very slow */
  cpuFallback: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const LIMITS_WANTED = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

let dawnInstance: GPU | null = null;

async function nodeAdapter(powerPreference: GPUPowerPreference): Promise<{ adapter: GPUAdapter; cpuFallback: boolean }> {
  // Indirect specifier: bundlers for the browser must not try to resolve the native addon.
  const specifier = process.env.WEBGPU_MODULE || 'webgpu';
  const dawn: any = await import(/* @vite-ignore */ specifier);
  Object.assign(globalThis, dawn.globals);
  // The instance must outlive every device made from it: Dawn aborts when it is garbage-collected.
  let instance: GPU = (dawnInstance = dawn.create([]));
  let adapter: GPUAdapter | null = await instance.requestAdapter({ powerPreference });
  if (adapter) return { adapter, cpuFallback: /swiftshader/i.test(adapterText(adapter)) };
  const fs = await import('node:fs');
  if (!process.env.VK_ICD_FILENAMES && fs.existsSync(SWIFTSHADER_ICD)) {
    // No GPU driver: Dawn on SwiftShader (Vulkan on the CPU) is correct, only slow.
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    instance = dawnInstance = dawn.create([]);
    adapter = await instance.requestAdapter({ powerPreference });
    if (adapter) {
      process.stderr.write('weblora: no GPU adapter found; running WebGPU on the CPU (SwiftShader). This works but is slow.\n');
      return { adapter, cpuFallback: true };
    }
  }
  throw new Error(
    'No WebGPU adapter. Install a Vulkan driver for your GPU, or for the CPU fallback on Debian/Ubuntu: ' +
      '`apt-get install chromium libvulkan1` (it ships SwiftShader at ' + SWIFTSHADER_ICD + ').',
  );
}

function adapterText(adapter: GPUAdapter): string {
  const i = adapter.info;
  return [i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' ');
}

export async function acquireDevice(powerPreference: GPUPowerPreference = 'high-performance'): Promise<AcquiredDevice> {
  let adapter: GPUAdapter;
  let cpuFallback = false;
  const nav = (globalThis as any).navigator as Navigator | undefined;
  if (nav?.gpu) {
    const a = await nav.gpu.requestAdapter({ powerPreference });
    if (!a) throw new Error('WebGPU is present but no adapter was given: the GPU may be blocklisted or disabled.');
    adapter = a;
    cpuFallback = /swiftshader/i.test(adapterText(a));
  } else if (isNode) {
    ({ adapter, cpuFallback } = await nodeAdapter(powerPreference));
  } else {
    throw new Error('WebGPU is not available in this browser. Use a recent Chrome or Edge (113+), or Safari 26+.');
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS_WANTED) requiredLimits[k] = (adapter.limits as any)[k];
  const requiredFeatures = (['subgroups', 'timestamp-query', 'shader-f16'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const limits: Record<string, number> = {};
  for (const k of LIMITS_WANTED) limits[k] = (device.limits as any)[k];
  const i = adapter.info;
  return {
    device,
    adapter,
    info: {
      vendor: i?.vendor ?? '',
      architecture: i?.architecture ?? '',
      description: i?.description || (i as any)?.device || '',
      cpuFallback,
      features: [...device.features] as string[],
      limits,
    },
  };
}
