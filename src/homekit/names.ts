/**
 * HomeKit names must start and end with a letter or number and may only hold letters, numbers, spaces and a few
 * punctuation marks; the Home app refuses others (emoji, a trailing "!"). Owners' camera names are made to fit.
 */
const ALLOWED = /[^\p{L}\p{N}\p{Zs}\u2019'&!._:;()/,-]/gu;
const EDGE = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;

/** HomeKit accepts names up to 64 characters. */
const MAX_LENGTH = 64;

export function homeKitName(name: string, fallback: string): string {
  const cleaned = name
    .replace(ALLOWED, ' ')
    .replace(/\s+/g, ' ')
    .replace(EDGE, '')
    .slice(0, MAX_LENGTH)
    .replace(EDGE, '');
  return cleaned === '' ? fallback : cleaned;
}
