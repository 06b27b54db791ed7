// Engine errors → what happened and what to try, in words a person can act on. The engine's own message is kept
// as the detail: it names the file, line, layer or limit.

export interface Explained {
  title: string;
  detail: string;
  hint: string;
}

const RULES: [RegExp, string, string][] = [
  [/was cancelled/i, 'The download was cancelled.', 'Files that finished downloading are kept: starting it again fetches only the rest.'],
  [/out of memory|OutOfMemory|allocation failed|Failed to allocate/i, 'The GPU ran out of memory.',
    'Lower the batch size or the sequence length, adapt fewer modules or use a lower rank, or pick a smaller model. Closing other GPU-heavy tabs helps too.'],
  [/device (was )?lost|GPU device lost|DeviceLost/i, 'The GPU device was lost.',
    'The driver reset the GPU (a crash, a timeout, or too little memory). Reload the page and try again with a smaller batch or sequence length.'],
  [/unsupported architecture|is not supported \(only|activation_function .* not supported/i, 'This model’s architecture is not supported.',
    'WebLoRA trains LlamaForCausalLM (SmolLM2, TinyLlama, Llama 3.x), Qwen2ForCausalLM and GPT2LMHeadModel checkpoints. Pick one of those.'],
  [/\.bin checkpoints are not supported|no model\.safetensors|config\.json not found|has no model\.safetensors/i, 'The model folder is incomplete.',
    'A model folder needs config.json, tokenizer.json and model.safetensors (or the sharded model-*.safetensors with their index). Drop the whole folder.'],
  [/not a Hugging Face repo id|not-found|not found on|does not exist on the Hub|404/i, 'The Hub has no such model.',
    'Check the repo id (owner/name, e.g. HuggingFaceTB/SmolLM2-135M).'],
  [/gated|unauthorized|401|403/i, 'The Hub refused the download.',
    'The repo is gated or private: accept its license on huggingface.co and paste an access token.'],
  [/Failed to fetch|NetworkError|network|could not be fetched/i, 'A download failed.',
    'Check the network connection and try again; files already downloaded are kept and not fetched twice.'],
  [/invalid JSON|CSV|no usable examples|no examples|expected .* format|the header must name/i, 'The dataset file could not be read.',
    'Use JSONL/JSON/CSV records with text, prompt + completion, instruction + output, or messages fields (or plain text). The rows with problems are listed with their line numbers.'],
  [/diverged|became NaN|became Infinity/i, 'Training diverged.',
    'Lower the learning rate, add warmup steps, or keep gradient clipping at 1.0.'],
  [/maxBufferSize|maxStorageBufferBindingSize|exceeds/i, 'The settings exceed what this GPU allows.',
    'Lower the batch size or sequence length, or pick a smaller model.'],
  [/match no linear layer/i, 'No module matches the chosen targets.', 'Tick at least one target module of this model.'],
];

export function explainError(e: unknown): Explained {
  const detail = (e instanceof Error ? e.message : String(e)).replace(/^Error: /, '');
  for (const [re, title, hint] of RULES) if (re.test(detail)) return { title, detail, hint };
  return { title: 'Something went wrong.', detail, hint: 'Try again; if it keeps happening, reload the page. The message above says what the engine saw.' };
}
