// What WebLoRA is and does: short, factual product text.

const METHODS: [name: string, what: string][] = [
  ['LoRA', 'low-rank update B·A beside each frozen weight'],
  ['LoRA+', 'B learns faster than A (separate learning rates)'],
  ['DoRA', 'splits each weight into magnitude and direction'],
  ['AdaLoRA', 'moves rank budget to the layers that need it'],
  ['VeRA', 'shared frozen projections, tiny trained scales'],
  ['LoRA-FA', 'A frozen, only B trained: less activation memory'],
  ['LoRA-drop', 'keeps separate adapters only for important layers'],
  ['Delta-LoRA', 'also moves the frozen weight by the adapter’s change'],
];

export function About() {
  return (
    <div className="about">
      <section className="card" id="how">
        <h2>How it works</h2>
        <ol className="steps">
          <li>
            <strong>Pick a model.</strong> Llama, Qwen2 or GPT-2 family checkpoints in safetensors, from the Hugging
            Face Hub or from a folder on your disk.
          </li>
          <li>
            <strong>Bring your data.</strong> Plain text, prompt/completion pairs, Alpaca records or chat messages
            (JSONL, CSV).
          </li>
          <li>
            <strong>Train.</strong> Frozen weights stay in 16 bits; adapters, gradients and AdamW state in f32. Watch
            loss and throughput live, pause or stop at any step.
          </li>
          <li>
            <strong>Export.</strong> <code>adapter_config.json</code> + <code>adapter_model.safetensors</code>, which
            PEFT’s <code>PeftModel.from_pretrained</code> loads unchanged.
          </li>
        </ol>
      </section>

      <section className="card" id="methods">
        <h2>Eight methods, one engine</h2>
        <ul className="methods">
          {METHODS.map(([name, what]) => (
            <li key={name}>
              <span className="method-name">{name}</span>
              <span className="method-what">{what}</span>
            </li>
          ))}
        </ul>
      </section>

      <section className="card" id="privacy">
        <h2>Your data never leaves your machine</h2>
        <p>
          Training runs on your GPU through WebGPU. Downloads go straight from the Hugging Face Hub into your
          browser’s storage; there is no WebLoRA server that sees your files, prompts or weights.
        </p>
      </section>
    </div>
  );
}
