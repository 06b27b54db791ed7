// Hands bytes to the browser as a file download (no server: an object URL on a temporary link).
export function saveBytes(fileName: string, bytes: Uint8Array, type = 'application/zip'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoking at once can cancel the download in Safari/Firefox: give the browser time to start it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
