// How much of the browser's storage this site uses (navigator.storage.estimate), and whether the browser has
// promised to keep it (navigator.storage.persist): without that promise it may evict the library when the
// disk runs low.
import { useEffect, useState } from 'react';
import { requestPersistence, storageInfo, type StorageInfo } from './storage';
import { formatBytes } from './format';

/** `version` changes whenever the library changes, so the numbers follow saves and deletes. */
export function StorageMeter({ version }: { version: unknown }) {
  const [info, setInfo] = useState<StorageInfo | null>(null);
  const [asked, setAsked] = useState<boolean | null>(null);

  useEffect(() => {
    let live = true;
    storageInfo().then((i) => live && setInfo(i));
    return () => {
      live = false;
    };
  }, [version, asked]);

  if (!info || (info.usage === null && info.persisted === null)) return null;
  const frac = info.usage !== null && info.quota ? Math.min(1, info.usage / info.quota) : null;
  const ask = async () => setAsked(await requestPersistence());

  return (
    <div className="lib-storage" data-testid="library-storage">
      {frac !== null && (
        <>
          <div className="lib-meter" role="meter" aria-valuemin={0} aria-valuemax={info.quota!} aria-valuenow={info.usage!} aria-label="Storage used">
            <span style={{ width: `${Math.max(frac * 100, 0.5)}%` }} className={frac > 0.8 ? 'full' : undefined} />
          </div>
          <span className="lib-storage-text">
            {formatBytes(info.usage)} used of {formatBytes(info.quota)} this browser allows
          </span>
        </>
      )}
      {info.persisted === true && <span className="lib-badge ok" title="The browser will not evict the library when disk space runs low">kept</span>}
      {info.persisted === false && (
        <span className="lib-storage-warn">
          The browser may clear this storage when the disk runs low.{' '}
          <button type="button" className="lib-link" onClick={() => void ask()}>
            Ask to keep it
          </button>
          {asked === false && ' The browser said no; download runs you want to keep.'}
        </span>
      )}
    </div>
  );
}
