// Shown when the browser exposes no WebGPU at all: which browsers have it and how to turn it on.

interface BrowserRow {
  id: 'chrome' | 'android' | 'safari' | 'firefox' | 'linux';
  browser: string;
  where: string;
  how: string;
}

const ROWS: BrowserRow[] = [
  { id: 'chrome', browser: 'Chrome or Edge 113+', where: 'Windows, macOS, ChromeOS', how: 'On by default. Update the browser if it is older.' },
  { id: 'android', browser: 'Chrome 121+', where: 'Android 12+ (Qualcomm, ARM GPUs)', how: 'On by default.' },
  { id: 'safari', browser: 'Safari 26+', where: 'macOS, iOS, iPadOS, visionOS 26', how: 'On by default. Update the OS to get Safari 26.' },
  { id: 'firefox', browser: 'Firefox 141+', where: 'Windows', how: 'On by default. Elsewhere: set dom.webgpu.enabled to true in about:config.' },
  {
    id: 'linux',
    browser: 'Chrome or Edge',
    where: 'Linux',
    how: 'Not on by default yet: enable chrome://flags/#enable-unsafe-webgpu and chrome://flags/#enable-vulkan, then restart.',
  },
];

/** A best guess at the visitor's browser, to point at the right row. */
function guessRow(ua: string): BrowserRow['id'] | null {
  if (/Firefox\//.test(ua)) return 'firefox';
  if (/Android/.test(ua) && /Chrome\//.test(ua)) return 'android';
  if (/Linux/.test(ua) && /Chrome\//.test(ua) && !/CrOS/.test(ua)) return 'linux';
  if (/Chrome\//.test(ua)) return 'chrome';
  if (/Safari\//.test(ua)) return 'safari';
  return null;
}

export function NoWebGpu({ insecureContext }: { insecureContext: boolean }) {
  const mine = guessRow(navigator.userAgent);
  return (
    <div className="nowebgpu" data-testid="no-webgpu">
      <p className="status bad">
        <span className="dot" aria-hidden />
        <strong>This browser does not offer WebGPU.</strong>
      </p>
      {insecureContext ? (
        <p>
          WebGPU only exists on secure pages. Open WebLoRA over <code>https://</code>, or on this computer at{' '}
          <code>http://localhost</code> / <code>http://127.0.0.1</code>.
        </p>
      ) : (
        <p>WebLoRA trains on your GPU through WebGPU, so it needs a browser that has it:</p>
      )}
      <table className="browsers">
        <thead>
          <tr>
            <th>Browser</th>
            <th>WebGPU</th>
          </tr>
        </thead>
        <tbody>
          {ROWS.map((r) => (
            <tr key={r.id} className={r.id === mine ? 'mine' : undefined}>
              <td>
                <span className="browser-name">{r.browser}</span>
                {r.id === mine && <span className="you">likely yours</span>}
                <span className="platform">{r.where}</span>
              </td>
              <td>{r.how}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="note">
        If WebGPU is on but still missing, the GPU may be blocklisted: <code>chrome://gpu</code> says why, and a driver
        update usually fixes it. Checked at <a href="https://caniuse.com/webgpu">caniuse.com/webgpu</a>.
      </p>
    </div>
  );
}
