// Rows that could not be used, each with its line and reason: none is dropped silently.
import type { BadRow } from '../worker/types';

const SHOWN = 200;

export function BadRows({ rows, file }: { rows: BadRow[]; file: string }) {
  if (!rows.length)
    return (
      <p className="status ok" data-testid="bad-rows-none">
        <span className="dot" aria-hidden /> Every row of {file} was read.
      </p>
    );
  return (
    <section className="card badrows" aria-labelledby="bad-h" data-testid="bad-rows">
      <h2 id="bad-h">
        {rows.length} row{rows.length === 1 ? '' : 's'} left out
      </h2>
      <p className="note">These rows are not trained on. Fix them in the file and drop it again, or pick another format.</p>
      <div className="scroll">
        <table>
          <thead>
            <tr>
              <th>Line</th>
              <th>Problem</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, SHOWN).map((r, i) => (
              <tr key={i}>
                <td className="num">{r.line}</td>
                <td>{r.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > SHOWN && <p className="note">… and {rows.length - SHOWN} more.</p>}
    </section>
  );
}
