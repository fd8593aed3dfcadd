// Drives the scanner page (served by `field-client serve`) in headless
// Chromium with a fake camera. Run by tests/tests/scanner.rs:
//
//   node scanner/test/e2e.mjs CONFIG.json
//
// CONFIG: { url, chromium, shots, out, mode, ... } where mode is
//  - "video": { decoder, cases: [{ name, y4m, expect }] } — one browser per
//    case, its camera playing the Y4M file; reports the verdict shown, the
//    text on screen and frame → verdict time, and saves phone and desktop
//    screenshots of the result screen;
//  - "ui": { wedge: { text, name }, hostile, rebindHost } — keyboard wedge,
//    typed hostile text, bad uploads through the page's origin, the sync
//    button, the decision buttons and the day's list, a rebound host name;
//  - "lookup": { unrecognised, lookups: [{ name, by, value }] } — a code in
//    another format offers the online lookup; each lookup typed into the
//    page's form, its result screen read and photographed;
//  - "stale": { text, lookup? } — lists past their maximum age; with
//    `lookup` (the server stopped), the page says lookup needs a connection;
//  - "decode": { sets: [{ name, dir, files: [{ file, text }] }], batch } —
//    the page's in-browser decoder (zxing-wasm) and field-client's Rust
//    decoder on photo files (served to the page by the harness, a fresh
//    page every `batch` photos), and first load.
// Writes a JSON report to `out`; the Rust test asserts on it.
import { chromium } from 'playwright-core'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const config = JSON.parse(await readFile(process.argv[2], 'utf8'))
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 800 }
const BASE_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required'
]

async function launch (extra = []) {
  return chromium.launch({ executablePath: config.chromium, headless: true, args: [...BASE_ARGS, ...extra] })
}

async function newPage (browser, viewport = PHONE) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  await context.grantPermissions(['camera'], { origin: config.url })
  const page = await context.newPage()
  const external = []
  page.on('request', (r) => { if (!r.url().startsWith(config.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) external.push(r.url()) })
  const dialogs = []
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}) })
  const consoleErrors = []
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  return { context, page, external, dialogs, consoleErrors }
}

async function screenText (page) {
  return page.evaluate(() => ({
    verdictZh: document.getElementById('verdict-zh').textContent,
    verdictEn: document.getElementById('verdict-en').textContent,
    reason: document.getElementById('reason').textContent,
    next: document.getElementById('next').textContent,
    face: document.getElementById('face').innerText,
    meta: document.getElementById('meta').innerText,
    resultVisible: !document.getElementById('result').hidden,
    background: getComputedStyle(document.getElementById('verdict')).backgroundColor
  }))
}

async function shoot (page, name) {
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: join(config.shots, `${name}-phone.png`), fullPage: false })
  await page.setViewportSize(DESKTOP)
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: join(config.shots, `${name}-desktop.png`), fullPage: false })
  await page.setViewportSize(PHONE)
}

async function videoCase (c) {
  const browser = await launch([`--use-file-for-fake-video-capture=${c.y4m}`])
  try {
    const { page, external, dialogs, consoleErrors } = await newPage(browser)
    await page.goto(`${config.url}/?decoder=${config.decoder}`)
    await page.waitForFunction(() => window.__scanner && window.__scanner.shown.length > 0, null, { timeout: 20000 })
    const m = await page.evaluate(() => ({ ...window.__scanner, shown: window.__scanner.shown.slice(0, 1) }))
    const first = m.shown[0]
    const screen = await screenText(page)
    if (config.shots && c.shoot !== false) await shoot(page, `${config.decoder}-${c.name}`)
    const decodes = m.decodes.map((d) => d.ms)
    return {
      name: c.name,
      verdict: first.verdict,
      reason: first.reason,
      check_id: first.check_id,
      latency_ms: first.shown - first.firstSeen,
      frames: m.frames,
      native: m.native,
      decode_ms: decodes,
      screen,
      external,
      dialogs,
      console_errors: consoleErrors
    }
  } finally {
    await browser.close()
  }
}

async function api (page, path, init) {
  return page.evaluate(async ({ path, init }) => {
    const opts = { ...init }
    if (init && init.bytes) { opts.body = new Uint8Array(init.bytes.length); init.bytes.forEach((b, i) => { opts.body[i] = b }) }
    if (init && init.size) opts.body = new Uint8Array(init.size)
    delete opts.bytes; delete opts.size
    const r = await fetch(path, opts)
    let body = null
    try { body = await r.json() } catch (_) {}
    return { status: r.status, body }
  }, { path, init })
}

async function ui () {
  const report = {}
  const extra = config.rebindHost ? [`--host-resolver-rules=MAP ${config.rebindHost} 127.0.0.1`] : []
  const browser = await launch(extra)
  try {
    const { page, external, dialogs, consoleErrors } = await newPage(browser)
    await page.goto(`${config.url}/?camera=0`)
    await page.waitForSelector('#statusline:not(:empty)')

    // The sync button: progress, then the outcome.
    await page.click('#sync')
    await page.waitForSelector('#syncpanel[data-state="ok"], #syncpanel[data-state="failed"]', { timeout: 60000 })
    report.sync = await page.evaluate(() => ({
      state: document.getElementById('syncpanel').dataset.state,
      message: document.getElementById('syncmsg').textContent
    }))
    if (config.shots) await shoot(page, 'sync')

    // Keyboard wedge: keys typed outside any field, then Enter; the same
    // code again right away is the same check, not a second one.
    const count = () => page.evaluate(() => document.querySelectorAll('#checks li').length)
    const listBefore = await count()
    await page.click('h2')
    const before = await page.evaluate(() => window.__scanner.shown.length)
    await page.keyboard.type(config.wedge.text, { delay: 0 })
    await page.keyboard.press('Enter')
    await page.waitForFunction((n) => window.__scanner.shown.length > n, before, { timeout: 10000 })
    report.wedge = { ...(await page.evaluate(() => window.__scanner.shown.at(-1))), screen: await screenText(page) }
    // The repeat is typed in the page in one go (a wedge types a code in
    // well under a second; keyboard.type over DevTools can take longer than
    // the 5 s repeat window on a loaded machine).
    await page.evaluate((text) => {
      for (const key of [...text, 'Enter']) document.body.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }))
    }, config.wedge.text)
    await page.waitForTimeout(500)
    report.repeat_shown = (await page.evaluate(() => window.__scanner.shown.length)) - before
    await page.waitForFunction((n) => document.querySelectorAll('#checks li').length > n, listBefore)
    if (config.shots) await shoot(page, `wedge-${config.wedge.name}`)

    // Refuse it with a reason; the day's list shows the decision.
    await page.click('#refuse')
    await page.selectOption('#refusereason', { index: 2 })
    await page.click('#refuseform button[type=submit]')
    await page.waitForSelector('#decided:not(:empty)')
    report.decided = await page.textContent('#decided')
    await page.waitForFunction(() => document.querySelector('#checks .dec'))
    report.today = await page.evaluate(() => ({
      date: document.getElementById('todaydate').textContent,
      items: [...document.querySelectorAll('#checks li')].map((li) => li.innerText)
    }))
    report.repeat_checks = report.today.items.length - listBefore - 1

    // Hostile text typed into the field: markup, 4,000 characters, control characters.
    const hostile = config.hostile
    const n = await page.evaluate(() => window.__scanner.shown.length)
    await page.fill('#text', hostile)
    await page.click('#typed button[type=submit]')
    await page.waitForFunction((k) => window.__scanner.shown.length > k, n, { timeout: 10000 })
    report.hostile = {
      ...(await page.evaluate(() => window.__scanner.shown.at(-1))),
      screen: await screenText(page),
      injected: await page.evaluate(() => document.querySelectorAll('img, script:not([src]), iframe, svg, [onerror]').length)
    }
    if (config.shots) await shoot(page, 'hostile-text')

    // Bad input through the page's own origin.
    report.bad = {
      text_not_image: await api(page, '/api/decode', { method: 'POST', headers: { 'content-type': 'image/png' }, bytes: [...new TextEncoder().encode('hello, not an image')] }),
      wrong_type: await api(page, '/api/decode', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
      corrupt_png: await api(page, '/api/decode', { method: 'POST', headers: { 'content-type': 'image/png' }, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 8, 0, 0, 0, 0, 1, 2, 3, 4] }),
      huge_upload: await api(page, '/api/decode', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, size: 7 * 1024 * 1024 }),
      long_text: await api(page, '/api/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'A'.repeat(20000) }) }),
      not_json: await api(page, '/api/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": ' }),
      control_text: await api(page, '/api/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'LC1:\u0000\u0007\u001b[31m' + '\u202e'.repeat(10) }) }),
      no_such_check: await api(page, '/api/dispose', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ check_id: 999999, accepted: true }) })
    }
    report.alive = (await api(page, '/api/status')).status
    report.external = [...external]
    report.dialogs = dialogs
    report.console_errors = consoleErrors

    // DNS rebinding: a name that resolves to 127.0.0.1 is refused.
    if (config.rebindHost) {
      const port = new URL(config.url).port
      const r = await page.goto(`http://${config.rebindHost}:${port}/`)
      report.rebind = { status: r.status(), body: await page.textContent('body') }
    }
  } finally {
    await browser.close()
  }
  return report
}

async function lookupMode () {
  const browser = await launch()
  const report = { lookups: [] }
  try {
    const { page, external, dialogs, consoleErrors } = await newPage(browser)
    await page.goto(`${config.url}/?camera=0`)
    await page.waitForSelector('#statusline:not(:empty)')
    const shownCount = () => page.evaluate(() => window.__scanner.shown.length)

    // Another system's code: cannot confirm, and the lookup is offered.
    let n = await shownCount()
    await page.fill('#text', config.unrecognised)
    await page.click('#typed button[type=submit]')
    await page.waitForFunction((k) => window.__scanner.shown.length > k, n, { timeout: 10000 })
    report.unrecognised = {
      ...(await page.evaluate(() => window.__scanner.shown.at(-1))),
      screen: await screenText(page),
      offered: await page.evaluate(() => !document.getElementById('offerlookup').hidden)
    }
    if (config.shots) await shoot(page, 'unrecognised-offers-lookup')
    await page.click('#golookup')
    report.unrecognised.focused = await page.evaluate(() => document.activeElement && document.activeElement.id)

    for (const l of config.lookups) {
      n = await shownCount()
      await page.selectOption('#lookupby', l.by)
      await page.fill('#lookupvalue', l.value)
      const t0 = Date.now()
      await page.click('#lookupgo')
      await page.waitForFunction((k) => window.__scanner.shown.length > k, n, { timeout: 20000 })
      const ms = Date.now() - t0
      report.lookups.push({
        name: l.name,
        ...(await page.evaluate(() => window.__scanner.shown.at(-1))),
        ms,
        screen: await screenText(page),
        offered: await page.evaluate(() => !document.getElementById('offerlookup').hidden)
      })
      if (config.shots) await shoot(page, `lookup-${l.name}`)
    }
    await page.waitForFunction(() => [...document.querySelectorAll('#checks li')].length > 0)
    report.today = await page.evaluate(() => [...document.querySelectorAll('#checks li')].map((li) => li.innerText))
    report.external = external
    report.dialogs = dialogs
    report.console_errors = consoleErrors
  } finally {
    await browser.close()
  }
  return report
}

// Lists too old (the device clock moved past max_age): the banner shows
// and a genuine certificate is "cannot confirm" with what to do next.
async function stale () {
  const browser = await launch()
  try {
    const { page, external } = await newPage(browser)
    await page.goto(`${config.url}/?camera=0`)
    await page.waitForSelector('#stale:not([hidden])')
    const banner = await page.textContent('#stale')
    await page.fill('#text', config.text)
    await page.click('#typed button[type=submit]')
    await page.waitForFunction(() => window.__scanner.shown.length > 0, null, { timeout: 10000 })
    const shown = await page.evaluate(() => window.__scanner.shown[0])
    const screen = await screenText(page)
    if (config.shots) await shoot(page, 'stale-cannot-confirm')
    let lookup = null
    if (config.lookup) {
      // The server is gone: the page says lookup needs a connection.
      await page.selectOption('#lookupby', config.lookup.by)
      await page.fill('#lookupvalue', config.lookup.value)
      await page.click('#lookupgo')
      await page.waitForSelector('#lookupmsg:not([hidden])', { timeout: 30000 })
      lookup = {
        message: await page.textContent('#lookupmsg'),
        errors: await page.evaluate(() => window.__scanner.lookupErrors || []),
        shown: await page.evaluate(() => window.__scanner.shown.length)
      }
      await page.evaluate(() => document.getElementById('lookupmsg').scrollIntoView({ block: 'center' }))
      if (config.shots) {
        await page.setViewportSize(PHONE)
        await page.evaluate(() => document.getElementById('lookupmsg').scrollIntoView({ block: 'center' }))
        await page.screenshot({ path: join(config.shots, 'lookup-offline-phone.png') })
        await page.setViewportSize(DESKTOP)
        await page.evaluate(() => document.getElementById('lookupmsg').scrollIntoView({ block: 'center' }))
        await page.screenshot({ path: join(config.shots, 'lookup-offline-desktop.png') })
      }
    }
    return { banner, ...shown, screen, external, lookup }
  } finally {
    await browser.close()
  }
}

// The photo sets. Each photo is served to the page by the harness under
// BENCH_PREFIX (page.route: never through field-client, nothing leaves the
// machine) and fetched by the page, rather than passed in through
// page.evaluate: a 1.9 MB PNG as a JSON array of numbers is a ~7 MB
// DevTools message per photo, built on both sides, and 120 of them in one
// page lost the browser. A fresh page every `batch` photos keeps the
// renderer's memory bounded too.
const BENCH_PREFIX = '/__bench/photo/'

async function decodeOne (page, url, withRust) {
  return page.evaluate(async ({ url, withRust }) => {
    const blob = await (await fetch(url)).blob()
    let t = performance.now()
    let texts = []
    let error = null
    try { texts = await window.__decodeImage(blob) } catch (e) { error = String(e) }
    const ms = performance.now() - t
    if (!withRust) return { texts, ms, rust: [], rustMs: 0, error }
    // The same file through field-client's Rust decoder.
    t = performance.now()
    const r = await fetch('/api/decode', { method: 'POST', headers: { 'content-type': 'image/png' }, body: blob })
    const rust = r.ok ? (await r.json()).texts : []
    return { texts, ms, rust, rustMs: performance.now() - t, error }
  }, { url, withRust })
}

async function decode () {
  const browser = await launch(['--js-flags=--max-old-space-size=512'])
  const report = { sets: [] }
  const external = []
  try {
    const fresh = async () => {
      const p = await newPage(browser)
      await p.page.route(`${config.url}${BENCH_PREFIX}**`, async (route) => {
        const url = new URL(route.request().url())
        const [dir, file] = decodeURIComponent(url.pathname.slice(BENCH_PREFIX.length)).split('/')
        const set = config.sets[Number(dir)]
        if (!set || !set.files.some((f) => f.file === file)) return route.fulfill({ status: 404 })
        return route.fulfill({ status: 200, contentType: 'image/png', body: await readFile(join(set.dir, file)) })
      })
      p.page.on('request', (r) => { if (!r.url().startsWith(config.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) external.push(r.url()) })
      const t = Date.now()
      await p.page.goto(`${config.url}/?camera=0`)
      p.gotoMs = Date.now() - t
      return p
    }
    // First load: navigation start to the page being interactive and the
    // decoder ready (wasm fetched and compiled), cold cache.
    const t0 = Date.now()
    let { context, page } = await fresh()
    const ready = await page.evaluate(async () => {
      const c = document.createElement('canvas'); c.width = 8; c.height = 8
      const b = await new Promise((resolve) => c.toBlob(resolve))
      await window.__decodeImage(b)
      const nav = performance.getEntriesByType('navigation')[0]
      return { dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd, decoder_ready_ms: performance.now(), native: window.__scanner.native }
    })
    report.first_load = { ...ready, wall_ms: Date.now() - t0 }
    const batch = config.batch || 10
    let onPage = 0
    for (const [i, set] of config.sets.entries()) {
      let ok = 0; let rustOk = 0
      const times = []; const rustTimes = []
      const read = []; const rustRead = []; const errors = []
      for (const f of set.files) {
        if (onPage >= batch) {
          await context.close();
          ({ context, page } = await fresh())
          onPage = 0
        }
        onPage += 1
        const res = await decodeOne(page, `${config.url}${BENCH_PREFIX}${i}/${encodeURIComponent(f.file)}`, config.rust !== false)
        times.push(res.ms)
        rustTimes.push(res.rustMs)
        if (res.error) errors.push(`${f.file}: ${res.error}`)
        if (res.texts.includes(f.text)) { ok += 1; read.push(f.file) }
        if (res.rust.includes(f.text)) { rustOk += 1; rustRead.push(f.file) }
      }
      report.sets.push({ name: set.name, n: set.files.length, wasm: { ok, read, times, errors }, rust: { ok: rustOk, read: rustRead, times: rustTimes } })
    }
    await context.close()
    report.external = external
  } finally {
    await browser.close()
  }
  return report
}

let report
if (config.mode === 'video') {
  report = { decoder: config.decoder, cases: [] }
  for (const c of config.cases) report.cases.push(await videoCase(c))
} else if (config.mode === 'ui') {
  report = await ui()
} else if (config.mode === 'lookup') {
  report = await lookupMode()
} else if (config.mode === 'stale') {
  report = await stale()
} else if (config.mode === 'decode') {
  report = await decode()
} else {
  throw new Error(`unknown mode ${config.mode}`)
}
await writeFile(config.out, JSON.stringify(report, null, 1))
console.log(JSON.stringify({ done: config.mode }))
