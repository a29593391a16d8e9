/**
 * Progress of a long command-line operation (a file import) on stderr: a bar redrawn in place on a
 * terminal, a plain line every few seconds otherwise (so that logs and CI output stay readable).
 */

// Redraw at most this often on a terminal, in milliseconds…
const TTY_REDRAW_MS = 100;
// …and print a line this often otherwise, in milliseconds.
const PLAIN_REPORT_MS = 5000;
const BAR_WIDTH = 24;

/** A progress display for reading a file of `totalBytes` bytes that yields items counted in `unit`. */
export interface ProgressBar {
  /** Reports how far reading has got; `note` replaces the figures (e.g. "applying…"). */
  update(bytes: number, items: number, note?: string): void;
  /** Shows the final state and ends the line, so that what follows starts on its own. */
  done(): void;
}

/** Starts a progress display labelled `label` (usually the file name). */
export function progressBar(label: string, totalBytes: number, unit: string): ProgressBar {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let shownAt = started;
  let last = { bytes: 0, items: 0, note: undefined as string | undefined };
  let finished = false;

  const text = () => {
    if (last.note) return `${label}: ${last.note}`;
    const fraction = totalBytes > 0 ? Math.min(1, last.bytes / totalBytes) : 1;
    const seconds = Math.max((performance.now() - started) / 1000, 0.001);
    const figures =
      `${label}: ${size(last.bytes)} of ${size(totalBytes)} (${Math.floor(fraction * 100)}%), ` +
      `${count(last.items)} ${unit} read, ${count(last.items / seconds)} ${unit}/s`;
    if (!tty) return figures;
    const filled = Math.round(fraction * BAR_WIDTH);
    return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${figures}`;
  };
  const show = (final: boolean) => {
    if (tty) process.stderr.write(`\r${text()}\x1b[K${final ? '\n' : ''}`);
    else process.stderr.write(`${text()}\n`);
  };

  return {
    update(bytes, items, note) {
      last = { bytes, items, note };
      const now = performance.now();
      if (note === undefined && now - shownAt < (tty ? TTY_REDRAW_MS : PLAIN_REPORT_MS)) return;
      shownAt = now;
      show(false);
    },
    done() {
      if (finished) return;
      finished = true;
      show(true);
    },
  };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
