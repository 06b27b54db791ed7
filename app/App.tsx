import { useEffect } from 'react';
import { useApp } from './store';
import { GpuPanel } from './components/GpuPanel';
import { About } from './components/About';

export function App() {
  const checkGpu = useApp((s) => s.checkGpu);
  useEffect(() => {
    void checkGpu();
  }, [checkGpu]);

  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span className="brand-name">WebLoRA</span>
          <span className="tag">early preview</span>
        </div>
        <nav className="topnav" aria-label="Sections">
          <a href="#gpu">Your GPU</a>
          <a href="#methods">Methods</a>
          <a href="#privacy">Privacy</a>
        </nav>
      </header>

      <main>
        <section className="hero">
          <h1>Fine-tune language models on your own GPU</h1>
          <p className="lead">
            WebLoRA trains LoRA-family adapters for open LLMs right in your browser, with hand-written WebGPU
            compute shaders. Your dataset and your model stay on this machine: nothing is uploaded, and the
            adapter you get is a standard Hugging Face PEFT file.
          </p>
        </section>

        <div className="columns">
          <GpuPanel />
          <About />
        </div>
      </main>

      <footer className="footer">
        WebLoRA · Apache-2.0 · the same engine also runs headless in Node (<code>npx weblora</code>)
      </footer>
    </div>
  );
}
