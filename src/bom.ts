/**
 * A leading UTF-8 byte order mark (U+FEFF, which some editors write) is an encoding detail, not
 * content: SQL, a down's header line, a `.env` name or JSON read without it. Checksums are still of a
 * file's text as read, BOM included.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
