/** Walking a router's answer line by line without splitting it all up front. */

/**
 * Calls `visit` with each line of `text` (without its line break), without splitting the whole text up front, so a
 * huge answer costs no more memory than the lines read; `visit` returns false to stop.
 */
export function forEachLine(text: string, visit: (line: string) => boolean): void {
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf('\n', at);
    if (end < 0) {
      end = text.length;
    }
    const line = text.charCodeAt(end - 1) === 0x0d ? text.slice(at, end - 1) : text.slice(at, end);
    if (!visit(line)) {
      return;
    }
    at = end + 1;
  }
}
