// The Library and Compare steps: the library's own panels (app/library), given what they need from the engine.
export function LibraryTabs({ tab }: { tab: 'library' | 'compare' }) {
  return (
    <section className="card">
      <h2>{tab === 'library' ? 'Library' : 'Compare'}</h2>
      <p className="note">Coming with the adapter library.</p>
    </section>
  );
}
