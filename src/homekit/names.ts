/**
 * HomeKit names must start and end with a letter or number and may only hold letters, numbers, spaces and a few
 * punctuation marks; the Home app refuses others (emoji, a trailing "!"). Owners' camera names are made to fit.
 */
const ALLOWED = /[^\p{L}\p{N}\p{Zs}\u2019'&!._:;()/,-]/gu;
const EDGE = /^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu;
/**
 * Combining marks left after NFC (HomeKit's rule has no room for them) and invisible format characters
 * (zero-width spaces and joiners, bidi marks, soft hyphens). Both are removed rather than turned into spaces:
 * a space in their place would split a word the owner sees as one ("Ame\u0301lie" must not become "Ame lie").
 */
const INVISIBLE = /[\p{M}\p{Cf}]/gu;

/**
 * HomeKit accepts names up to 64 characters (UTF-16 units, as HAP-NodeJS counts). The accessory appends
 * " Internet" (9) or " Leak" to the camera's name for its services; longer than 55 and HAP-NodeJS cuts the
 * service name at 64 with a warning, which can leave it ending in a space, or drop the suffix that tells the
 * switch and the sensor apart.
 */
const MAX_LENGTH = 64 - ' Internet'.length;

function clean(name: string): string {
  return name
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(ALLOWED, ' ')
    .replace(/\s+/g, ' ')
    .replace(EDGE, '')
    .slice(0, MAX_LENGTH)
    .replace(EDGE, '');
}

export function homeKitName(name: string, fallback: string): string {
  const cleaned = clean(name);
  if (cleaned === '') {
    return fallback;
  }
  // HomeKit's rule needs a first and a last letter or number that are two characters: "A" or "7" alone is
  // refused. Keep the owner's character, after the fallback word: camera "1" becomes "Camera 1".
  if ([...cleaned].length === 1) {
    return clean(`${fallback} ${cleaned}`);
  }
  return cleaned;
}
