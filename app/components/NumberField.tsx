// A labelled number input that keeps what is typed until it is a valid number, then reports it.
import { useEffect, useState } from 'react';

interface Props {
  label: string;
  value: number;
  onChange(v: number): void;
  help?: string;
  integer?: boolean;
  min?: number;
  max?: number;
  step?: number | 'any';
  disabled?: boolean;
  testId?: string;
  /** show the help under the field (otherwise it is the tooltip) */
  showHelp?: boolean;
}

export function NumberField({ label, value, onChange, help, integer, min, max, step, disabled, testId, showHelp }: Props) {
  const [text, setText] = useState(String(value));
  useEffect(() => {
    if (Number(text) !== value) setText(String(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  const n = Number(text);
  const invalid = text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || (min !== undefined && n < min) || (max !== undefined && n > max);
  return (
    <label className={`field ${invalid ? 'invalid' : ''}`} title={help}>
      <span>{label}</span>
      <input
        type="number"
        inputMode="decimal"
        value={text}
        step={step ?? (integer ? 1 : 'any')}
        min={min}
        max={max}
        disabled={disabled}
        aria-invalid={invalid}
        data-testid={testId}
        onChange={(e) => {
          setText(e.target.value);
          const v = Number(e.target.value);
          if (e.target.value.trim() !== '' && Number.isFinite(v) && (!integer || Number.isInteger(v)) && (min === undefined || v >= min) && (max === undefined || v <= max)) onChange(v);
        }}
      />
      {help && showHelp && <small className="help">{help}</small>}
    </label>
  );
}
