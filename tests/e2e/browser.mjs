// Launches Debian's Chromium through playwright-core with the flags this project's tests use
// (see DEVELOPERS/TESTING notes): headless=new, no network side channels, a fresh profile.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launch(extraArgs = []) {
  const profile = mkdtempSync(join(tmpdir(), 'collab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: false, // the headless mode comes from --headless=new above
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}
