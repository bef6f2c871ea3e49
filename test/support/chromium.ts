// Headless Chromium for browser tests: Debian's `chromium` package (installed by `npm run setup`) driven
// by playwright-core, which downloads no browser of its own.
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Where Debian's package puts its launcher; `FERRY_CHROMIUM` overrides it. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const candidates = [process.env.FERRY_CHROMIUM, ...CHROMIUM_PATHS].filter((p): p is string => !!p);
  return candidates.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Launches headless Chromium. Throws (never skips) when it is missing, so a machine without it fails
 * the browser tests with the fix instead of passing them silently. The caller closes the browser.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(
      `Chromium not found (looked for ${CHROMIUM_PATHS.join(', ')}): run \`npm run setup\` ` +
        '(it installs the Debian package `chromium`), or `apt-get install -y chromium`.',
    );
  }
  // --no-sandbox: tests run as root in containers, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}
