// LoRA-FA (--method lorafa): A frozen, B's gradient projected through (A·Aᵀ + 1e-8 I)⁻¹/s², PEFT's
// create_lorafa_optimizer update rule (test/fixtures/llama_lorafa; README: eps 1e-6, decay after the step).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { replayMethod, tensors, fx } from './replay';

describe('LoRA-FA vs PEFT create_lorafa_optimizer', () => {
  it('6-step training replay; A unchanged', async () => {
    const { out } = await replayMethod('llama_lorafa', 'lorafa');
    const init = tensors(path.join(fx, 'llama_lorafa/adapter/adapter_model.safetensors'));
    const got = tensors(path.join(out, 'adapter_model.safetensors'));
    for (const [k, v] of init) if (k.includes('lora_A')) expect(got.get(k)).toEqual(v);
  }, 120_000);
});
