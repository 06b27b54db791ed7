// Buffers an adapter needs only inside one layer's forward or backward (never across layers) are shared by every
// module on the device: layers run one after another in the queue, so one [T, out] buffer serves all 200+ of them
// where per-layer copies would cost gigabytes. Ask at use time (get grows the buffer to the largest request).
import type { Gpu } from '../gpu/runtime';
import { Scratch } from '../model/layers';

const perDevice = new WeakMap<Gpu, Scratch>();

export function adapterScratch(gpu: Gpu): Scratch {
  let s = perDevice.get(gpu);
  if (!s) perDevice.set(gpu, (s = new Scratch(gpu)));
  return s;
}
