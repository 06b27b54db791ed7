// The engine's home in the browser: a dedicated module worker, driven from the page through comlink.
// Everything GPU-side (device, buffers, pipelines, the training loop) lives here so the page never janks;
// for now it only acquires the device and describes it.
import * as Comlink from 'comlink';
import { acquireDevice, type AcquiredDevice, type DeviceInfo } from '../src/engine/gpu/device';

export interface GpuReport {
  info: DeviceInfo;
  /** every feature the adapter offers (info.features holds only those the device was created with) */
  adapterFeatures: string[];
  isFallbackAdapter: boolean;
}

let acquired: AcquiredDevice | null = null;
let acquiring: Promise<AcquiredDevice> | null = null;

async function device(): Promise<AcquiredDevice> {
  if (acquired) return acquired;
  // One device per worker: concurrent callers share the same request.
  acquiring ??= acquireDevice('high-performance').then(
    (a) => {
      acquired = a;
      // A lost device (driver reset, tab in background too long on some platforms) must be re-acquired.
      a.device.lost.then(() => {
        if (acquired === a) acquired = null;
        acquiring = null;
      });
      return a;
    },
    (e) => {
      acquiring = null;
      throw e;
    },
  );
  return acquiring;
}

const api = {
  /** Acquires the GPU device (once) and describes its adapter. Rejects with a readable message when there is none. */
  async probe(): Promise<GpuReport> {
    const a = await device();
    return {
      info: a.info,
      adapterFeatures: [...a.adapter.features].map(String).sort(),
      isFallbackAdapter: Boolean((a.adapter.info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    };
  },

  /** Resolves with the reason when the device is lost (so the page can say so and offer to retry). */
  async deviceLost(): Promise<string> {
    const a = await device();
    const lost = await a.device.lost;
    return lost.message || lost.reason || 'unknown reason';
  },
};

export type EngineApi = typeof api;

Comlink.expose(api);
