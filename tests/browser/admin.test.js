// tests/browser/admin.test.js — the admin pages in a real browser.
//
// Debian's chromium, driven by playwright-core, headless, with a fresh
// profile: a failed sign-in, sign-in, the list, adding an image through the
// form (preview before sending, the XHR upload with its progress bar), the
// image on the home page fetched from the local S3, renaming, deleting
// through the confirmation page, and signing out. Along the way: no console
// errors, no Content-Security-Policy violations, fields reachable with Tab,
// and no sideways scrolling on a phone-sized screen. Screenshots of every
// page go to IOTD_SCREENSHOT_DIR.
//
// Run by tests/check_browser.sh, which creates the editor account and the
// image files and passes them in the environment. Prints TAP-style lines.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.log(`not ok - environment variable ${name} is not set`);
    process.exit(1);
  }
  return v;
};

const BASE = env('IOTD_BASE_URL').replace(/\/+$/, '');
const S3_ORIGIN = new URL(env('IOTD_S3_ENDPOINT')).origin;
const USER = env('IOTD_BROWSER_USER');
const PASSWORD = env('IOTD_BROWSER_PASSWORD');
const IMAGE = env('IOTD_BROWSER_IMAGE'); // a JPEG made by the wrapper
const IMAGE_WIDTH = Number(env('IOTD_BROWSER_IMAGE_WIDTH'));
const IMAGE_HEIGHT = Number(env('IOTD_BROWSER_IMAGE_HEIGHT'));
const SHOTS = env('IOTD_SCREENSHOT_DIR');
const CHROMIUM = process.env.IOTD_CHROMIUM || '/usr/bin/chromium';
const SRCDIR = process.env.IOTD_SRCDIR || path.resolve(__dirname, '../..');

const STEP_TIMEOUT_MS = 15000; // one navigation or wait
const RUN_TIMEOUT_MS = 240000; // the whole run, so make check never hangs
const LOGIN_FAILED = 'Please enter a correct username and password. Both are case-sensitive.';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const { chromium } = require(path.join(SRCDIR, 'node_modules', 'playwright-core'));

// ---------------------------------------------------------------- TAP
let count = 0;
let failures = 0;
function ok(what) {
  count++;
  console.log(`ok ${count} - ${what}`);
}
function notOk(what, why) {
  count++;
  failures++;
  console.log(`not ok ${count} - ${what}`);
  for (const line of String(why || '').split('\n').slice(0, 12)) console.log(`#   ${line}`);
}
function check(what, cond, why) {
  if (cond) ok(what);
  else notOk(what, why);
  return !!cond;
}

// A step of the flow: later steps need the earlier ones, so the first
// failure ends the flow (the checks after it still run).
class FlowStopped extends Error {}
async function step(what, fn) {
  try {
    const r = await fn();
    ok(what);
    return r;
  } catch (e) {
    notOk(what, e && e.stack ? e.stack : e);
    throw new FlowStopped(what);
  }
}
function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// ---------------------------------------------------------------- the browser
const consoleErrors = [];
const cspViolations = [];
const responses = [];
const expectedErrors = []; // {url, status}: answers the flow asks for, e.g. a refused upload

async function openContext(browser, options) {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  await context.exposeBinding('__iotdCspViolation', (source, v) => {
    cspViolations.push({ page: source.page ? source.page.url() : '', ...v });
  });
  // Runs before the page's own scripts; not subject to the page's CSP.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__iotdCspViolation({
        directive: e.violatedDirective,
        blocked: e.blockedURI,
        source: e.sourceFile + ':' + e.lineNumber,
      });
    });
  });
  // The upload's progress bar changes and is gone again within moments:
  // keep the highest value it showed, across the page change that follows.
  // (Polled, since a form that came back with errors is written into the
  // same document by admin.js, which drops listeners added before.)
  await context.addInitScript(() => {
    const watched = new WeakSet();
    setInterval(() => {
      const bar = document.querySelector('progress.upload-progress');
      if (!bar || watched.has(bar)) return;
      watched.add(bar);
      new MutationObserver(() => {
        const seen = Number(sessionStorage.getItem('iotdUploadProgress') || -1);
        if (!bar.hidden && bar.value > seen) sessionStorage.setItem('iotdUploadProgress', String(bar.value));
      }).observe(bar, { attributes: true, childList: true, characterData: true, subtree: true });
    }, 20);
  });
  context.on('page', watchPage);
  return context;
}

function watchPage(page) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push({ page: page.url(), text: msg.text() });
  });
  page.on('pageerror', (err) => consoleErrors.push({ page: page.url(), text: String(err) }));
  page.on('response', (res) => {
    responses.push({
      url: res.url(),
      status: res.status(),
      type: res.headers()['content-type'] || '',
      resourceType: res.request().resourceType(),
      response: res,
    });
  });
}

// Public pages are cacheable for IOTD_PAGE_MAX_AGE seconds, so a visitor's
// browser may show a page from its cache; a reload revalidates (ETag) and
// shows what changed, as a visitor pressing reload would see.
async function visitFresh(page, url) {
  await page.goto(url);
  await page.reload();
}

async function shot(page, name) {
  const file = path.join(SHOTS, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot: ${file}`);
}

// Ids of the elements Tab visits from the top of the page, in order.
async function tabOrder(page, presses) {
  await page.evaluate(() => {
    if (document.activeElement) document.activeElement.blur();
    window.scrollTo(0, 0);
  });
  const seen = [];
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    seen.push(
      await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return '';
        return el.id || `${el.tagName.toLowerCase()}:${(el.textContent || el.getAttribute('name') || '').trim()}`;
      }),
    );
  }
  return seen;
}

function inOrder(list, wanted) {
  let at = -1;
  for (const w of wanted) {
    const i = list.indexOf(w, at + 1);
    if (i < 0) return false;
    at = i;
  }
  return true;
}

async function noSidewaysScroll(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
}

async function flashText(page) {
  return (await page.locator('p.flash').textContent({ timeout: STEP_TIMEOUT_MS })).trim();
}

async function decodedSize(locator) {
  return locator.evaluate(async (img) => {
    if (!img.complete || img.naturalWidth === 0) {
      try {
        await img.decode();
      } catch (e) {
        /* reported as 0 below */
      }
    }
    return { w: img.naturalWidth, h: img.naturalHeight, src: img.currentSrc || img.src };
  });
}

// ---------------------------------------------------------------- the flow
async function flow(browser) {
  const context = await openContext(browser, {});
  const page = await context.newPage();
  const tag = env('IOTD_BROWSER_TAG'); // the wrapper removes images named with it that are left behind
  const name = `Browser test ${tag} “Sunset” & <b>dusk</b>`;
  const tagline = 'Seen from the harbour wall, a little after nine';
  const renamed = `Browser test ${tag} Harbour at dusk`;

  // ---- a failed sign-in
  await step('the sign-in page loads with the username field focused', async () => {
    const res = await page.goto(`${BASE}/admin/login`);
    expect(res && res.status() === 200, `status ${res && res.status()}`);
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    expect(focused === 'username', `focused element is '${focused}'`);
  });
  await shot(page, 'login');
  const loginTabs = await tabOrder(page, 10);
  check('keyboard: Tab reaches the username field, the password field and the button in order',
    inOrder(loginTabs, ['username', 'password', 'button:Sign in']), `Tab visited: ${loginTabs.join(', ')}`);

  await step('a wrong password shows the error message and keeps the username', async () => {
    await page.focus('#username');
    await page.keyboard.type(USER);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD + '-wrong');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'),
      page.keyboard.press('Enter'),
    ]);
    await page.waitForLoadState('load');
    expect(res.status() === 200, `status ${res.status()}`);
    const msg = (await page.locator('#login-error').textContent()).trim();
    expect(msg === LOGIN_FAILED, `message was '${msg}'`);
    const kept = await page.inputValue('#username');
    expect(kept === USER, `username field holds '${kept}'`);
  });
  await shot(page, 'login-failed');

  // ---- sign in
  await step('signing in leads to the image list', async () => {
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${BASE}/admin/`), page.click('form.stack button[type=submit]')]);
    const h1 = (await page.locator('main h1').textContent()).trim();
    expect(h1 === 'Images', `heading '${h1}'`);
    const who = (await page.locator('.admin-bar .who').textContent()).trim();
    expect(who === USER, `signed in as '${who}'`);
  });

  // ---- add an image
  const button = await page.locator('.list-head a.button').evaluate((a) => {
    const s = getComputedStyle(a);
    return { color: s.color, background: s.backgroundColor };
  });
  check('the "Add image" button\'s text is not the colour of its background', button.color !== button.background,
    `text ${button.color} on ${button.background}`);
  await step('"Add image" opens the form with no preview and no progress bar showing', async () => {
    await Promise.all([page.waitForURL(`${BASE}/admin/images/new`), page.click('.list-head a.button')]);
    expect((await page.locator('main h1').textContent()).trim().length > 0, 'no heading');
    expect(!(await page.locator('img.preview').isVisible()), 'the empty preview is showing');
    expect(!(await page.locator('progress.upload-progress').isVisible()), 'the progress bar is showing');
  });
  const formTabs = await tabOrder(page, 20);
  check('keyboard: Tab reaches the name, tagline and file fields and Save in order',
    inOrder(formTabs, ['name', 'tagline', 'file', 'button:Save']), `Tab visited: ${formTabs.join(', ')}`);

  await step('a text file named .png comes back as a form error beside the field, name and tagline kept', async () => {
    await page.fill('#name', name);
    await page.fill('#tagline', tagline);
    await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some text\n') });
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${BASE}/admin/images/new` && r.request().method() === 'POST'),
      page.click('form.image-form button[type=submit]'),
    ]);
    expect(res.status() === 200 || res.status() === 400, `status ${res.status()}`);
    if (res.status() >= 400) expectedErrors.push({ url: res.url(), status: res.status() });
    const err = page.locator('#file-error');
    await err.waitFor({ state: 'visible' });
    expect(((await err.textContent()) || '').trim().length > 0, 'empty error message');
    expect((await page.getAttribute('#file', 'aria-invalid')) === 'true', 'the file field is not marked invalid');
    expect((await page.inputValue('#name')) === name, `name field '${await page.inputValue('#name')}'`);
    expect((await page.inputValue('#tagline')) === tagline, 'tagline field');
    expect(new URL(page.url()).pathname === '/admin/images/new', `at ${page.url()}`);
  });
  await shot(page, 'new-with-error');

  await step('choosing a file shows its preview before anything is sent', async () => {
    const sentBefore = responses.length;
    await page.setInputFiles('#file', IMAGE);
    const preview = page.locator('img.preview');
    await preview.waitFor({ state: 'visible' });
    const size = await decodedSize(preview);
    expect(size.src.startsWith('blob:'), `preview src ${size.src}`);
    expect(size.w === IMAGE_WIDTH && size.h === IMAGE_HEIGHT, `preview decoded as ${size.w}x${size.h}`);
    const box = await preview.boundingBox();
    const drawn = box.width / box.height;
    const real = IMAGE_WIDTH / IMAGE_HEIGHT;
    expect(Math.abs(drawn - real) / real < 0.02, `preview drawn ${box.width}x${box.height}, squashed from ${IMAGE_WIDTH}x${IMAGE_HEIGHT}`);
    const posted = responses.slice(sentBefore).filter((r) => r.url.endsWith('/admin/images/new') && r.response.request().method() === 'POST');
    expect(posted.length === 0, 'the form was sent already');
  });
  await shot(page, 'new-with-preview');

  await step('Save uploads through XHR with the progress bar shown, retries once when busy, then lands on the list', async () => {
    // The first POST is answered as the server does when every upload slot
    // is busy (503 with Retry-After), so the page must send it again by
    // itself. The second is held at the network layer for a moment, after
    // the browser has sent the body, so the progress bar can be seen
    // mid-flight.
    let xhrSeen = false;
    let posts = 0;
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await page.route(`${BASE}/admin/images/new`, async (route) => {
      const req = route.request();
      if (req.method() !== 'POST') return route.continue();
      posts += 1;
      if (posts === 1) {
        expectedErrors.push({ url: req.url(), status: 503 });
        return route.fulfill({
          status: 503,
          headers: { 'Retry-After': '1', 'Content-Type': 'text/html; charset=utf-8' },
          body: '<!doctype html><title>Busy</title><p>Other uploads are being processed right now.</p>',
        });
      }
      xhrSeen = req.resourceType() === 'xhr';
      await held;
      return route.continue();
    });
    await page.evaluate(() => sessionStorage.removeItem('iotdUploadProgress'));
    const arrived = page.waitForURL(`${BASE}/admin/`, { timeout: STEP_TIMEOUT_MS }).then(() => null, (e) => e);
    await page.click('form.image-form button[type=submit]');
    let shown = false;
    let disabled = false;
    let busyText = '';
    try {
      await page.locator('progress.upload-progress').waitFor({ state: 'visible' });
      shown = true;
      disabled = await page.locator('form.image-form button[type=submit]').isDisabled();
      await page.locator('.upload-status').waitFor({ state: 'visible' });
      busyText = (await page.locator('.upload-status').textContent()) || '';
    } finally {
      release();
    }
    const e = await arrived;
    if (e) throw e;
    const peak = await page.evaluate(() => sessionStorage.getItem('iotdUploadProgress'));
    await page.unroute(`${BASE}/admin/images/new`);
    expect(xhrSeen, 'the form was not sent by XMLHttpRequest');
    expect(shown, 'the progress bar did not appear');
    expect(disabled, 'Save was not disabled during the upload');
    expect(peak === '100', `the progress bar reached ${peak}, not 100`);
    expect(posts === 2, `the form was sent ${posts} times, not twice (once busy, once saved)`);
    expect(/busy; trying again in 1 s \(attempt 2 of 5\)/.test(busyText), `busy message '${busyText}'`);
  });

  let imageId = null;
  await step('the flash says the image was added and it heads the list', async () => {
    const flash = await flashText(page);
    expect(flash === `“${name}” was added.`, `flash '${flash}'`);
    const first = page.locator('table.images tbody tr').first();
    const link = first.locator('td.name a');
    expect((await link.textContent()).trim() === name, `first row is '${await link.textContent()}'`);
    const href = await link.getAttribute('href');
    const m = /^\/admin\/images\/(\d+)\/edit$/.exec(href || '');
    expect(m, `edit link '${href}'`);
    imageId = m[1];
    console.log(`# image id ${imageId}`);
    // the upload was answered before its renditions were made: until they
    // are, the row says "Processing…" and the list loads itself again
    const cell = page.locator('table.images tbody tr', { has: page.locator(`a[href="/admin/images/${imageId}/edit"]`) })
      .locator('td.thumb');
    const state = (await cell.textContent()).trim();
    expect(state === 'Processing…' || (await cell.locator('img').count()) === 1, `thumbnail cell '${state}'`);
    await cell.locator('img').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await page.waitForLoadState('load');
    console.log(`# the list showed ${state ? `'${state}', then ` : ''}the thumbnail`);
    // the list shows the 400 px thumbnail rendition, same shape as the upload
    const thumb = await decodedSize(cell.locator('img'));
    const shape = IMAGE_WIDTH / IMAGE_HEIGHT;
    expect(Math.max(thumb.w, thumb.h) === Math.min(400, Math.max(IMAGE_WIDTH, IMAGE_HEIGHT)) &&
           Math.abs(thumb.w / thumb.h - shape) / shape < 0.02, `thumbnail decoded as ${thumb.w}x${thumb.h}`);
    const tl = (await first.locator('td.tagline').textContent()).trim();
    expect(tl === tagline, `tagline cell '${tl}'`);
  });
  await shot(page, 'list');

  // ---- the home page shows it, fetched from the local S3
  // A visitor's browser: no cookies and an empty cache, so the image is
  // really fetched (the editor's browser has it cached from the list).
  const visitor = await openContext(browser, {});
  const home = await visitor.newPage();
  await step('the home page shows the new image, fetched from the local S3 (200, image/jpeg) and decoded', async () => {
    const before = responses.length;
    await home.goto(`${BASE}/`);
    await home.waitForLoadState('load');
    const img = home.locator('img.feature-image');
    const alt = await img.getAttribute('alt');
    expect(alt === name, `feature image alt '${alt}'`);
    const h1 = (await home.locator('.feature-caption h1').textContent()).trim();
    expect(h1 === name, `caption '${h1}'`);
    // the page shows the display rendition, chosen from srcset (whose
    // natural size the browser scales to the viewport): same shape
    const size = await decodedSize(img);
    const shape = IMAGE_WIDTH / IMAGE_HEIGHT;
    expect(size.w > 0 && Math.abs(size.w / size.h - shape) / shape < 0.01, `decoded as ${size.w}x${size.h}`);
    expect(new URL(size.src).origin === S3_ORIGIN, `image from ${size.src}, not ${S3_ORIGIN}`);
    expect(/\.display-[^/]*\.jpg$/.test(new URL(size.src).pathname), `not the display rendition: ${size.src}`);
    const got = responses.slice(before).find((r) => r.url === size.src);
    expect(got, `no response seen for ${size.src}`);
    expect(got.status === 200, `S3 answered ${got.status}`);
    expect(/^image\/jpeg\b/.test(got.type), `content type '${got.type}'`);
    const body = await got.response.body();
    expect(body.length > 100 && body[0] === 0xff && body[1] === 0xd8, 'the display rendition is not a JPEG');
    const box = await img.boundingBox();
    expect(box && box.width >= DESKTOP.width * 0.9, `image box ${JSON.stringify(box)} is not full-width`);
  });
  await shot(home, 'home');

  // ---- rename
  await step('the edit form opens with the current values', async () => {
    await page.goto(`${BASE}/admin/`);
    const row = page.locator('table.images tbody tr', { has: page.locator(`a[href="/admin/images/${imageId}/edit"]`) });
    await Promise.all([page.waitForURL(`${BASE}/admin/images/${imageId}/edit`), row.locator('td.actions a', { hasText: 'Change' }).click()]);
    expect((await page.inputValue('#name')) === name, `name field '${await page.inputValue('#name')}'`);
    expect((await page.inputValue('#tagline')) === tagline, 'tagline field');
    const current = await decodedSize(page.locator('figure.current img'));
    expect(current.w === IMAGE_WIDTH, `current image decoded as ${current.w}x${current.h}`);
    const box = await page.locator('figure.current img').boundingBox();
    const real = IMAGE_WIDTH / IMAGE_HEIGHT;
    expect(Math.abs(box.width / box.height - real) / real < 0.02, `current image drawn ${box.width}x${box.height}, squashed`);
    expect(!(await page.locator('img.preview').isVisible()), 'the empty preview is showing');
  });
  await shot(page, 'edit');

  await step('renaming saves and says so', async () => {
    await page.fill('#name', renamed);
    await Promise.all([page.waitForURL(`${BASE}/admin/`), page.click('form.image-form button[type=submit]')]);
    const flash = await flashText(page);
    expect(flash === `“${renamed}” was changed.`, `flash '${flash}'`);
  });

  await step('the home page shows the new name (after a reload: pages are cacheable)', async () => {
    await visitFresh(home, `${BASE}/`);
    const h1 = (await home.locator('.feature-caption h1').textContent()).trim();
    expect(h1 === renamed, `caption '${h1}'`);
    expect((await home.locator('img.feature-image').getAttribute('alt')) === renamed, 'alt text');
    const size = await decodedSize(home.locator('img.feature-image'));
    const shape = IMAGE_WIDTH / IMAGE_HEIGHT;
    expect(size.w > 0 && Math.abs(size.w / size.h - shape) / shape < 0.01, `decoded as ${size.w}x${size.h}`);
  });

  // ---- a scheduled day and the archive
  const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  await step('scheduling it for yesterday (the date field) saves and says so', async () => {
    await page.goto(`${BASE}/admin/images/${imageId}/edit`);
    await page.fill('#feature_date', yesterday);
    await Promise.all([page.waitForURL(`${BASE}/admin/`), page.click('form.image-form button[type=submit]')]);
    const flash = await flashText(page);
    expect(flash === `“${renamed}” was changed.`, `flash '${flash}'`);
  });

  await step("yesterday's page shows it, with the day's date and a link to the archive", async () => {
    await visitFresh(home, `${BASE}/day/${yesterday}`);
    const h1 = (await home.locator('.feature-caption h1').textContent()).trim();
    expect(h1 === renamed, `caption '${h1}'`);
    const when = await home.locator('.feature-date time').getAttribute('datetime');
    expect(when === yesterday, `date '${when}'`);
    const size = await decodedSize(home.locator('img.feature-image'));
    expect(size.w > 0, 'the image did not decode');
    expect((await home.locator('nav.daynav a[href="/archive"]').count()) === 1, 'no archive link');
  });
  await shot(home, 'day');

  await step('the archive lists yesterday with its name and thumbnail, and links to the day', async () => {
    await visitFresh(home, `${BASE}/archive`);
    const entry = home.locator(`ol.archive-list a[href="/day/${yesterday}"]`);
    expect((await entry.count()) === 1, 'yesterday is not in the archive');
    const label = (await entry.locator('.archive-name').textContent()).trim();
    expect(label === renamed, `archive name '${label}'`);
    const thumb = await decodedSize(entry.locator('img'));
    expect(thumb.w > 0, 'the thumbnail did not decode');
    await shot(home, 'archive');
    await Promise.all([home.waitForURL(`${BASE}/day/${yesterday}`), entry.click()]);
    const s = await noSidewaysScroll(home);
    expect(s.scrollWidth <= s.innerWidth, 'the day page scrolls sideways');
  });

  // ---- a phone-sized screen
  await step('on a phone-sized screen the list, the forms and the delete page need no sideways scrolling', async () => {
    const phone = await openContext(browser, {
      viewport: PHONE,
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      storageState: await context.storageState(),
    });
    const p = await phone.newPage();
    const wide = [];
    for (const url of [`${BASE}/admin/`, `${BASE}/admin/images/new`, `${BASE}/admin/images/${imageId}/edit`, `${BASE}/admin/images/${imageId}/delete`]) {
      await p.goto(url);
      await p.waitForLoadState('load');
      const s = await noSidewaysScroll(p);
      if (s.scrollWidth > s.innerWidth) wide.push(`${url}: scrollWidth ${s.scrollWidth} > innerWidth ${s.innerWidth}`);
      if (url.endsWith('/admin/')) {
        expect(await p.locator(`a[href="/admin/images/${imageId}/edit"]`).first().isVisible(), 'the image row is not visible');
        await shot(p, 'list-phone');
      }
    }
    await phone.close();
    expect(wide.length === 0, wide.join('\n'));
  });

  // ---- delete
  await step('Delete asks for confirmation', async () => {
    await page.goto(`${BASE}/admin/`);
    const row = page.locator('table.images tbody tr', { has: page.locator(`a[href="/admin/images/${imageId}/edit"]`) });
    await Promise.all([page.waitForURL(`${BASE}/admin/images/${imageId}/delete`), row.locator('td.actions a', { hasText: 'Delete' }).click()]);
    const h1 = (await page.locator('main h1').textContent()).trim();
    expect(h1 === `Delete “${renamed}”?`, `heading '${h1}'`);
  });
  await shot(page, 'delete');

  await step('confirming deletes it and it leaves the list and the home page', async () => {
    await Promise.all([page.waitForURL(`${BASE}/admin/`), page.click('form.buttons button.danger')]);
    const flash = await flashText(page);
    expect(flash === `“${renamed}” was deleted.`, `flash '${flash}'`);
    expect((await page.locator(`a[href="/admin/images/${imageId}/edit"]`).count()) === 0, 'the row is still listed');
    await visitFresh(home, `${BASE}/`);
    const text = await home.locator('main').textContent();
    expect(!text.includes(renamed), 'the home page still shows it');
  });

  // ---- sign out
  await step('signing out returns to the sign-in page', async () => {
    await page.goto(`${BASE}/admin/`);
    await Promise.all([page.waitForURL(/\/admin\/login/), page.click('form.signout button')]);
    const flash = await flashText(page);
    expect(flash === 'You have signed out.', `flash '${flash}'`);
  });

  await step('after signing out /admin/ redirects to sign-in', async () => {
    const res = await page.goto(`${BASE}/admin/`);
    const url = new URL(page.url());
    expect(url.pathname === '/admin/login', `landed on ${page.url()}`);
    expect(res.status() === 200, `status ${res.status()}`);
    const redirected = res.request().redirectedFrom();
    expect(redirected && redirected.url() === `${BASE}/admin/`, 'no redirect was followed');
  });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'iotd-chromium-'));
  let browser = null;
  const killer = setTimeout(() => {
    notOk('the browser test finished in time', `still running after ${RUN_TIMEOUT_MS / 1000}s`);
    if (browser) browser.close().catch(() => {});
    process.exit(1);
  }, RUN_TIMEOUT_MS);

  try {
    // playwright's launch gives chromium a new empty --user-data-dir of its
    // own and removes it at close; HOME and the XDG folders point at another
    // fresh folder so nothing is read from or left in the real home.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
    });
    ok(`chromium ${browser.version()} started headless`);
  } catch (e) {
    notOk('chromium starts headless', e && e.stack ? e.stack : e);
    clearTimeout(killer);
    fs.rmSync(profile, { recursive: true, force: true });
    return 1;
  }

  try {
    await flow(browser);
  } catch (e) {
    if (!(e instanceof FlowStopped)) notOk('the flow ran to the end', e && e.stack ? e.stack : e);
    else console.log(`# the flow stopped at: ${e.message}`);
  }

  // Chromium logs every 4xx answer as a console error; those the flow asked for are not faults.
  const asked = (url, status) => expectedErrors.some((x) => x.url === url && x.status === status);
  const errs = consoleErrors
    .filter((e) => {
      const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(e.text);
      return !(m && asked(e.page, Number(m[1])));
    })
    .map((e) => `${e.page}: ${e.text}`);
  check('no console errors on any page', errs.length === 0, errs.join('\n'));
  const csp = cspViolations.map((v) => `${v.page}: ${v.directive} blocked ${v.blocked} (${v.source})`);
  check('no Content-Security-Policy violations', csp.length === 0, csp.join('\n'));
  const failed = responses.filter((r) => r.status >= 400 && !asked(r.url, r.status)).map((r) => `${r.status} ${r.url}`);
  check('no request answered with an unexpected error status', failed.length === 0, failed.join('\n'));

  await browser.close().catch(() => {});
  clearTimeout(killer);
  fs.rmSync(profile, { recursive: true, force: true });
  console.log(`1..${count}`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.log(`not ok - the browser test crashed: ${e && e.message}`);
    process.exit(1);
  },
);
