// Drives the holder wallet in headless Chromium (playwright-core, the
// system's /usr/bin/chromium) against a running verifier-server. Run by the
// Rust test tests/tests/wallet.rs, which starts the server, judges the
// screenshots with the real verifier and asserts; this script only acts and
// reports, one JSON object per stdout line, and reads "cancelled" on stdin
// when the test has cancelled the second holder's certificate and "offline"
// when it has stopped the server.
//
// env: WALLET_URL (http://127.0.0.1:PORT), TOKEN_A, TOKEN_B, TOKEN_C,
//      OUT_DIR, CHROMIUM (default /usr/bin/chromium)
import { chromium } from 'playwright-core'
import { createInterface } from 'node:readline'
import { join } from 'node:path'

const { WALLET_URL, TOKEN_A, TOKEN_B, TOKEN_C, OUT_DIR } = process.env
// Holder C's phone clock is this far behind (5 h 17 min 13 s).
const SKEW_MS = -(5 * 3600 + 17 * 60 + 13) * 1000
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
if (!WALLET_URL || !TOKEN_A || !TOKEN_B || !TOKEN_C || !OUT_DIR) {
  console.error('e2e.mjs: set WALLET_URL, TOKEN_A, TOKEN_B, TOKEN_C and OUT_DIR')
  process.exit(2)
}
const wallet = WALLET_URL + '/wallet/'
const report = (event, data) => console.log(JSON.stringify({ event, ...data }))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
const phone = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
  serviceWorkers: 'allow'
}

async function signIn (page, token) {
  await page.goto(wallet)
  await page.waitForSelector('#token')
  await page.fill('#token', token)
  await page.click('#signin-button')
  await page.waitForSelector('#cards, #empty', { timeout: 20000 })
}

async function cards (page) {
  return page.$$eval('#cards .card', (cs) => cs.map((c) => ({
    number: c.dataset.number, type: c.dataset.type, validUntil: c.dataset.validUntil, blocked: c.classList.contains('blocked')
  })))
}

/** Opens the first card and waits for a QR of the current slot. */
async function showFresh (page, name) {
  await page.click('#cards .card')
  const slot = () => Math.floor(Date.now() / 30000)
  await page.waitForFunction((s) => document.querySelector('#qr')?.dataset.slot === String(s), slot(), { timeout: 20000 })
  const qr = await page.$('#qr')
  const info = await qr.evaluate((c) => ({ text: c.dataset.text, slot: Number(c.dataset.slot), sign_and_draw_ms: Number(c.dataset.ms), qr_version: Number(c.dataset.version) }))
  const screenshot = join(OUT_DIR, name)
  await qr.screenshot({ path: screenshot })
  const countdown = await page.textContent('#countdown')
  const hint = await page.textContent('.hint')
  return { screenshot, ...info, at: Math.floor(Date.now() / 1000), countdown, hint }
}

try {
  // Holder A: sign in, the wallet makes its device key, registers it and
  // stores the holder-bound certificates.
  const ctxA = await browser.newContext(phone)
  const a = await ctxA.newPage()
  await signIn(a, TOKEN_A)
  const worker = await a.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready
    return reg.active?.scriptURL
  })
  const key = await a.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('keyval-store')
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const get = open.result.transaction('keyval').objectStore('keyval').get('deviceKey')
      get.onsuccess = () => resolve({
        type: get.result.privateKey.type,
        algorithm: get.result.privateKey.algorithm.name,
        extractable: get.result.privateKey.extractable
      })
    }
  }))
  const cardsA = await cards(a)
  report('claimed', { cards: cardsA, worker, key })

  // Holder B, on another phone, sees only B's own certificates, and the
  // server refuses B the QR of A's certificate.
  const ctxB = await browser.newContext(phone)
  const b = await ctxB.newPage()
  await signIn(b, TOKEN_B)
  const cardsB = await cards(b)
  const foreign = cardsA[0]
  const foreignQr = await b.evaluate(async ({ type, number, token }) => {
    const r = await fetch(`/api/v1/holder/certificates/${type}/${encodeURIComponent(number)}/qr.svg`, { headers: { Authorization: 'Bearer ' + token } })
    return r.status
  }, { type: foreign.type, number: foreign.number, token: TOKEN_B })
  report('second_holder', { cards: cardsB, foreign_qr_status: foreignQr })

  // The test cancels B's certificate; B's wallet syncs, then goes offline
  // and, reloaded, says so instead of showing a QR.
  const cancelled = await lines.next()
  if (cancelled.value?.trim() !== 'cancelled') throw new Error(`expected "cancelled" on stdin, got ${cancelled.value}`)
  await b.click('#refresh')
  await b.waitForSelector('#cards .card.blocked', { timeout: 20000 })
  await ctxB.setOffline(true)
  await b.reload()
  await b.waitForSelector('#cards .card', { timeout: 20000 })
  await b.click('#cards .card')
  await b.waitForFunction(() => document.querySelector('#blocked')?.textContent, null, { timeout: 20000 })
  report('cancelled', {
    blocked: await b.textContent('#blocked'),
    qr_text: await b.$eval('#qr', (c) => c.dataset.text ?? null),
    qr_hidden: await b.$eval('.qr-box', (x) => x.hidden),
    netstate: await b.textContent('#netstate')
  })
  await ctxB.close()

  // A shows the certificate: a QR of a fresh presentation.
  const shown = await showFresh(a, 'online.png')
  // It is redrawn with the next slot.
  await a.waitForFunction((s) => Number(document.querySelector('#qr')?.dataset.slot) > s, shown.slot, { timeout: 40000 })
  const next = await a.$eval('#qr', (c) => ({ text: c.dataset.text, slot: Number(c.dataset.slot) }))
  report('shown', { ...shown, next })

  // Holder C's phone clock is hours wrong: the wallet takes the server's
  // time at sync, so its code is for the real slot and verifies.
  const ctxC = await browser.newContext(phone)
  await ctxC.addInitScript((skew) => {
    const RealDate = Date
    const realNow = RealDate.now.bind(RealDate)
    class SkewedDate extends RealDate {
      constructor (...args) {
        if (args.length === 0) super(realNow() + skew)
        else super(...args)
      }

      static now () { return realNow() + skew }
    }
    globalThis.Date = SkewedDate
  }, SKEW_MS)
  const c = await ctxC.newPage()
  await signIn(c, TOKEN_C)
  const pageSkewMs = await c.evaluate(() => Date.now()) - Date.now()
  const skewed = await showFresh(c, 'skewed-clock.png')
  const offsetMs = await c.$eval('#qr', (q) => Number(q.dataset.offset))
  // The holder page no longer shows the static QR of the now bound
  // certificate: it points to the wallet.
  const h = await ctxC.newPage()
  await h.goto(WALLET_URL + '/holder')
  await h.fill('#t', TOKEN_C)
  await h.click('form button')
  await h.waitForSelector('.card', { timeout: 20000 })
  const holderPage = await h.evaluate(() => ({
    cards: document.querySelectorAll('.card').length,
    qr_svgs: document.querySelectorAll('.qr svg').length,
    wallet_link: document.querySelector('.note.wallet a')?.getAttribute('href') ?? null,
    note: document.querySelector('.note.wallet')?.textContent ?? null
  }))
  await h.screenshot({ path: join(OUT_DIR, 'holder-page-bound.png') })
  report('skewed_clock', { ...skewed, page_skew_ms: pageSkewMs, offset_ms: offsetMs, holder_page: holderPage })
  await ctxC.close()

  // The test stops the server; the phone goes offline too.
  const go = await lines.next()
  if (go.value?.trim() !== 'offline') throw new Error(`expected "offline" on stdin, got ${go.value}`)
  await ctxA.setOffline(true)
  await a.reload()
  await a.waitForSelector('#cards', { timeout: 20000 })
  const netstate = await a.textContent('#netstate')
  const offline = await showFresh(a, 'offline.png')
  report('offline_shown', { ...offline, netstate })

  // Still offline, on a day after the certificate expired: no QR, a reason.
  const until = cardsA[0].validUntil
  if (until) {
    const [y, m, d] = until.split('-').map(Number)
    await a.clock.setFixedTime(new Date(Date.UTC(y, m - 1, d + 1, 2)))
    await a.reload()
    await a.waitForSelector('#cards', { timeout: 20000 })
    await a.click('#cards .card')
    await a.waitForFunction(() => document.querySelector('#blocked')?.textContent, null, { timeout: 20000 })
    report('expired', {
      blocked: await a.textContent('#blocked'),
      qr_text: await a.$eval('#qr', (c) => c.dataset.text ?? null),
      qr_hidden: await a.$eval('.qr-box', (b) => b.hidden)
    })
  } else {
    report('expired', { skipped: 'long-term certificate' })
  }
  await browser.close()
  report('done', {})
  process.exit(0)
} catch (e) {
  console.error('e2e.mjs:', e.stack || e)
  await browser.close().catch(() => {})
  process.exit(1)
}
