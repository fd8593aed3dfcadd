// Drives the wallet's 车辆授权 screen (delegations.js) in headless Chromium
// against a running verifier-server. Run by tests/tests/wallet.rs:
//
//   node wallet/test/delegations.mjs CONFIG.json
//
// CONFIG: { url, chromium, out, shots, owner: { token }, driver: { token,
//   name, id }, cert: { type, number }, runs: [{ name, viewport, mobile,
//   timezone }] }
// Each run (two fresh browser contexts): the driver signs in (the wallet
// registers its phone); the owner signs in, opens 车辆授权, is refused a
// period beyond the certificate's validity (the Chinese message read),
// delegates the certificate to the driver, reads the card; the driver
// refreshes and reads the copy marked 授权使用; the owner revokes it with
// the confirmation; the driver refreshes again. Screenshots (prefix
// `deleg-`) go to `shots`; the JSON report to `out`; the Rust test asserts.
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

/** Whether the page is wider than the viewport (a horizontal scroll). */
async function overflows (page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
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
    type: c.dataset.type,
    number: c.dataset.number,
    valid_until: c.dataset.validUntil,
    blocked: c.classList.contains('blocked'),
    delegated: c.querySelector('.delegated')?.textContent || null,
    warn: c.querySelector('.card-warn')?.textContent || null
  })))
}

/** 刷新: the list is drawn anew (a new button) when the sync is done. */
async function refresh (page) {
  await page.$eval('#refresh', (b) => { b.dataset.old = '1' })
  await page.click('#refresh')
  await page.waitForSelector('#refresh:not([data-old])', { timeout: 20000 })
}

try {
  for (const run of config.runs) {
    const options = {
      viewport: run.viewport,
      deviceScaleFactor: run.mobile ? 2 : 1,
      isMobile: !!run.mobile,
      hasTouch: !!run.mobile,
      locale: 'zh-CN',
      timezoneId: run.timezone,
      serviceWorkers: 'allow'
    }
    const out = { name: run.name, shots: {}, overflow: [] }
    const pages = []
    const open = async (who) => {
      const context = await browser.newContext(options)
      const page = await context.newPage()
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) report.console.push(`${run.name} ${who}: ${m.text()}`)
      })
      // The refused delegation answers 422 by design: not a script error.
      page.on('response', (r) => {
        if (r.status() >= 400 && !(r.status() === 422 && r.url().endsWith('/api/v1/holder/delegations'))) {
          report.console.push(`${run.name} ${who}: ${r.status()} ${r.url()}`)
        }
      })
      page.on('pageerror', (e) => report.console.push(`${run.name} ${who}: ${e.message}`))
      pages.push(page)
      return page
    }
    const screen = async (page, name) => {
      const path = join(config.shots, `deleg-${run.name}-${name}.png`)
      await page.screenshot({ path, fullPage: true })
      out.shots[name] = path
      if (await overflows(page)) out.overflow.push(name)
    }

    // The driver's phone first: signing in registers its key.
    const driver = await open('driver')
    await signIn(driver, config.driver.token)
    out.driver_before = await cards(driver)
    out.driver_button = await driver.isVisible('#delegations')

    // The owner: its vehicle certificate, and the 车辆授权 button.
    const owner = await open('owner')
    await signIn(owner, config.owner.token)
    out.owner_cards = await cards(owner)
    out.owner_button = await owner.textContent('#delegations')
    await screen(owner, 'owner-list')
    const cert = out.owner_cards.find((c) => c.type === config.cert.type && c.number === config.cert.number)
    await owner.click('#delegations')
    await owner.waitForSelector('#deleg-form')
    await owner.waitForSelector('#no-delegations, .deleg')
    out.before = await owner.$$eval('.deleg', (ds) => ds.length)
    out.validity = await owner.textContent('#deleg-validity')
    out.default_until = await owner.inputValue('#deleg-until')
    out.span = await owner.textContent('#deleg-span')
    await screen(owner, 'empty')

    // A period past the certificate's validity: the server refuses it.
    await owner.selectOption('#deleg-cert', `${config.cert.type}/${config.cert.number}`)
    await owner.fill('#deleg-name', config.driver.name)
    await owner.fill('#deleg-idnum', config.driver.id)
    const [y, m, d] = cert.valid_until.split('-').map(Number)
    const beyond = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
    await owner.fill('#deleg-until', beyond)
    out.span_beyond = await owner.textContent('#deleg-span')
    await owner.click('#deleg-submit')
    await owner.waitForSelector('#deleg-error:not(:empty)')
    out.refused = { until: beyond, error: await owner.textContent('#deleg-error') }
    await screen(owner, 'refused')

    // Within it (the default end day): delegated, listed as 有效.
    await owner.fill('#deleg-until', out.default_until)
    await owner.click('#deleg-submit')
    await owner.waitForSelector('.deleg[data-state="active"]')
    const card = async (sel) => owner.$eval(sel, (g) => ({
      id: Number(g.dataset.id),
      state: g.dataset.state,
      driver: g.querySelector('.deleg-driver').textContent,
      badge: g.querySelector('.badge').textContent,
      id_number: g.querySelector('.deleg-id').textContent,
      cert: g.querySelector('.deleg-cert').textContent,
      period: g.querySelector('.deleg-period').textContent
    }))
    out.delegated = { ...(await card('.deleg[data-state="active"]')), message: await owner.textContent('#deleg-message') }
    out.form_cleared = (await owner.inputValue('#deleg-idnum')) === ''
    await screen(owner, 'delegated')

    // The driver's next sync carries the copy, marked 授权使用.
    await refresh(driver)
    out.driver_during = await cards(driver)
    await screen(driver, 'driver-copy')

    // Revoke, with the confirmation.
    await owner.click('.deleg[data-state="active"] .revoke')
    await owner.waitForSelector('.confirm-revoke')
    out.confirm = await owner.textContent('.confirm-text')
    await screen(owner, 'confirm')
    await owner.click('.confirm-revoke')
    await owner.waitForSelector(`.deleg[data-id="${out.delegated.id}"][data-state="revoked"]`)
    out.revoked = { ...(await card(`.deleg[data-id="${out.delegated.id}"]`)), message: await owner.textContent('#deleg-message') }
    await screen(owner, 'revoked')

    // The driver's next sync: the copy is gone or no longer valid.
    await refresh(driver)
    out.driver_after = await cards(driver)
    await screen(driver, 'driver-after')

    report.runs.push(out)
    for (const p of pages) await p.context().close()
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
