// Drives the wallet's 运证通 sign-in and its grants screen (授权管理) in
// headless Chromium against a running verifier-server and the simulated
// 运证通 (`verifier-server yzt serve`). Run by tests/tests/wallet.rs:
//
//   node wallet/test/yzt-grants.mjs CONFIG.json
//
// CONFIG: { url, chromium, out, shots, holder: { name, id }, cert: { type,
//   number }, app: { client_id, name, token }, expired_assertion,
//   runs: [{ name, viewport, mobile, timezone, bad_paths }] }
// Each run (a fresh browser context): sign in through 运证通 (a wrong check
// digit refused on its page first), open 授权管理, grant the application
// the certificate, read the card, fetch the certificate as the
// application, revoke with the confirmation, fetch again. A run with
// bad_paths then replays the assertion it was given, brings a forged
// state and an expired assertion. Screenshots of every screen go to
// `shots`; the JSON report to `out`; the Rust test asserts on it.
import { chromium } from 'playwright-core'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const config = JSON.parse(await readFile(process.argv[2], 'utf8'))
const wallet = config.url + '/wallet/'
const report = { runs: [], console: [] }

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
})

async function shot (page, run, name) {
  const path = join(config.shots, `${run.name}-${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** Whether the page is wider than the viewport (a horizontal scroll). */
async function overflows (page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
}

/** The application's view of the certificate: its status and problem detail. */
async function appFetch () {
  const res = await fetch(`${config.url}/api/v1/app/certificates/${config.cert.type}/${config.cert.number}`, {
    headers: { Authorization: 'Bearer ' + config.app.token }
  })
  const body = await res.json().catch(() => ({}))
  return { status: res.status, detail: body.detail || null, fields: body.fields || null }
}

/** Opens the wallet at `fragment` with `state` as the pending sign-in's. */
async function arrive (page, state, fragment) {
  await page.goto(wallet)
  await page.waitForSelector('#signin-screen, #cards, #empty')
  await page.evaluate((s) => sessionStorage.setItem('yzt-state', s), state)
  await page.goto('about:blank')
  await page.goto(wallet + '#' + fragment)
  await page.waitForFunction(() => document.querySelector('#error')?.textContent || document.querySelector('#cards, #empty'), null, { timeout: 20000 })
  return {
    error: await page.textContent('#error').catch(() => null),
    code: await page.getAttribute('#error', 'data-code').catch(() => null),
    hash: await page.evaluate(() => location.hash)
  }
}

try {
  for (const run of config.runs) {
    const context = await browser.newContext({
      viewport: run.viewport,
      deviceScaleFactor: run.mobile ? 2 : 1,
      isMobile: !!run.mobile,
      hasTouch: !!run.mobile,
      locale: 'zh-CN',
      timezoneId: run.timezone,
      serviceWorkers: 'allow'
    })
    const page = await context.newPage()
    // (运证通's page answers 422 to a wrong number by design: not a script error.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) report.console.push(`${run.name}: ${m.text()}`)
    })
    page.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 422) report.console.push(`${run.name}: ${r.status()} ${r.url()}`)
    })
    page.on('pageerror', (e) => report.console.push(`${run.name}: ${e.message}`))
    const signInPosts = []
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/holder/sign-in')) signInPosts.push(r.url()) })
    let redirected = null
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame() && !redirected && f.url().includes('#assertion=')) redirected = f.url()
    })
    const out = { name: run.name, shots: {}, overflow: [] }
    const screen = async (name) => {
      out.shots[name] = await shot(page, run, name)
      if (await overflows(page)) out.overflow.push(name)
    }

    // The sign-in screen offers 运证通 and keeps the token for help desks.
    await page.goto(wallet)
    await page.waitForSelector('#yzt-signin')
    out.signin = {
      button: await page.textContent('#yzt-signin'),
      token_form: await page.isVisible('#token')
    }
    await screen('signin')

    // 运证通's page: another origin; a wrong check digit is refused there.
    await page.click('#yzt-signin')
    await page.waitForSelector('#yzt-form')
    const at = new URL(page.url())
    out.yzt = {
      origin: at.origin,
      redirect_uri: at.searchParams.get('redirect_uri'),
      state_length: (at.searchParams.get('state') || '').length,
      title: await page.title()
    }
    const id = config.holder.id
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0')
    await page.fill('#name', config.holder.name)
    await page.fill('#id_number', wrong)
    await page.click('#yzt-submit')
    await page.waitForSelector('#yzt-error:not(:empty)')
    out.yzt.wrong_digit = await page.textContent('#yzt-error')
    await screen('yzt-refused')
    await page.fill('#id_number', id)
    await screen('yzt')
    await page.click('#yzt-submit')
    await page.waitForSelector('#cards, #empty', { timeout: 30000 })
    out.signed_in = {
      cards: await page.$$eval('#cards .card', (cs) => cs.map((c) => ({ type: c.dataset.type, number: c.dataset.number }))),
      hash: await page.evaluate(() => location.hash),
      redirected: redirected !== null,
      sign_in_posts: signInPosts.length,
      stored: await page.evaluate(() => new Promise((resolve, reject) => {
        const open = indexedDB.open('keyval-store')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const get = open.result.transaction('keyval').objectStore('keyval').get('wallet')
          get.onsuccess = () => resolve({ expires_at_ms: get.result?.expiresAt ?? null, token_prefix: (get.result?.token || '').slice(0, 5) })
        }
      }))
    }
    await screen('signed-in')

    if (run.bad_paths) {
      // Right away (the assertion lives two minutes), in another tab: the
      // same assertion again is refused by the server (single use).
      const bad = await context.newPage()
      bad.on('pageerror', (e) => report.console.push(`${run.name} bad: ${e.message}`))
      const posts = []
      bad.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/holder/sign-in')) posts.push(r.url()) })
      const given = new URL(redirected)
      const fragment = new URLSearchParams(given.hash.slice(1))
      out.replayed = await arrive(bad, fragment.get('state'), given.hash.slice(1))
      out.shots.replayed = await shot(bad, run, 'replayed')
      // A state this phone did not make: refused before the server is asked.
      const before = posts.length
      out.wrong_state = await arrive(bad, 'expected-state-0001', `assertion=${config.expired_assertion}&state=forged-state-0002`)
      out.wrong_state.sign_in_posts = posts.length - before
      out.shots.wrong_state = await shot(bad, run, 'wrong-state')
      // An assertion past its two minutes.
      out.expired = await arrive(bad, 'expected-state-0003', `assertion=${config.expired_assertion}&state=expected-state-0003`)
      out.shots.expired = await shot(bad, run, 'expired')
      if (await overflows(bad)) out.overflow.push('bad-paths')
    }

    // 授权管理: nothing granted yet; grant the application the certificate.
    await page.click('#grants')
    await page.waitForSelector('#grant-form')
    await page.waitForSelector('#no-grants, .grant')
    out.before = await page.$$eval('.grant', (gs) => gs.length)
    await screen('grants-empty')
    await page.selectOption('#grant-app', config.app.client_id)
    out.about = await page.textContent('#grant-app-about')
    await page.check(`#grant-certs input[data-number="${config.cert.number}"]`)
    await page.fill('#grant-purpose', '网约车平台注册资格核验')
    await page.selectOption('#grant-period', '90')
    out.until = await page.textContent('#grant-until')
    const requested = Math.floor(Date.now() / 1000) + 90 * 86400
    await screen('grant-form')
    await page.click('#grant-submit')
    await page.waitForSelector('.grant[data-state="active"]')
    const card = async (sel) => page.$eval(sel, (g) => ({
      id: Number(g.dataset.id),
      state: g.dataset.state,
      app: g.querySelector('.grant-app').textContent,
      badge: g.querySelector('.badge').textContent,
      purpose: g.querySelector('.grant-purpose').textContent,
      certs: g.querySelector('.grant-certs').textContent,
      period: g.querySelector('.grant-period').textContent
    }))
    out.granted = { ...(await card('.grant[data-state="active"]')), message: await page.textContent('#grants-message'), requested_until: requested }
    await screen('granted')
    out.app_before = await appFetch()

    // Revoke, with the confirmation.
    await page.click('.grant[data-state="active"] .revoke')
    await page.waitForSelector('.confirm-revoke')
    out.confirm = await page.textContent('.confirm-text')
    await screen('confirm')
    await page.click('.confirm-revoke')
    await page.waitForSelector(`.grant[data-id="${out.granted.id}"][data-state="revoked"]`)
    out.revoked = { ...(await card(`.grant[data-id="${out.granted.id}"]`)), message: await page.textContent('#grants-message') }
    await screen('revoked')
    out.app_after = await appFetch()

    report.runs.push(out)
    await context.close()
  }
} catch (e) {
  // What the pages showed, for the test's failure message.
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) console.error(p.url(), await p.innerText('main').catch(() => '?'))
  }
  console.error('console:', JSON.stringify(report.console))
  throw e
} finally {
  await browser.close()
  await writeFile(config.out, JSON.stringify(report, null, 2))
}
