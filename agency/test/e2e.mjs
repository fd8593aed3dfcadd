// Drives the agency console (/agency/ of a running verifier-server) in
// headless Chromium. Run by tests/tests/agency.rs:
//
//   node agency/test/e2e.mjs CONFIG.json
//
// CONFIG: { url, chromium, out, shots, token, runs: [{ name, viewport,
//   correct: { type, number, field, value }, upload: { file },
//   status: { type, number, reason, doc },
//   outage: { from, until, reason } }] }
// For each run (a fresh browser context at that viewport): sign in, read
// the push state, correct a record and see it leave the list, upload a
// file with the upload throttled and record the progress bar's values,
// download the report CSV, change a status and read the history. Saves a
// screenshot of every screen to `shots` and writes a JSON report to `out`;
// the Rust test asserts on it.
import { chromium } from 'playwright-core'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const config = JSON.parse(await readFile(process.argv[2], 'utf8'))
const console_ = []
const external = []
const report = { runs: [] }

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

try {
  for (const run of config.runs) {
    const context = await browser.newContext({
      viewport: run.viewport,
      deviceScaleFactor: 1,
      isMobile: run.viewport.width < 600,
      hasTouch: run.viewport.width < 600,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      acceptDownloads: true
    })
    const page = await context.newPage()
    page.on('console', (m) => { if (m.type() === 'error') console_.push(`${run.name}: ${m.text()}`) })
    page.on('pageerror', (e) => console_.push(`${run.name}: ${e.message}`))
    page.on('request', (r) => {
      const u = r.url()
      if (!u.startsWith(config.url) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u)
    })
    const out = { name: run.name, shots: [] }

    // Sign in.
    await page.goto(config.url + '/agency/')
    await page.waitForSelector('#token')
    out.shots.push(await shot(page, run, 'signin'))
    await page.fill('#token', config.token)
    await page.click('#signin-button')
    await page.waitForSelector('#push-state .push', { timeout: 20000 })
    out.push = await page.$$eval('#push-state .push', (cs) => cs.map((c) => ({
      division: c.dataset.division,
      overdue: c.dataset.overdue,
      last: c.querySelector('.last-push').textContent,
      due: c.querySelector('.due-by').textContent,
      text: c.textContent
    })))
    out.who = await page.textContent('#who')
    out.shots.push(await shot(page, run, 'push'))

    // Correct a record: it leaves the list.
    await page.click('#nav a[data-tab="corrections"]')
    await page.waitForSelector('#corrections-list, #corrections-empty', { timeout: 20000 })
    const entry = `.entry[data-type="${run.correct.type}"][data-number="${run.correct.number}"]`
    await page.waitForSelector(entry)
    out.before = await page.$$eval('#corrections-list .entry', (es) => es.map((e) => e.dataset.number))
    out.reasons = await page.$$eval(`${entry} .reasons li`, (ls) => ls.map((l) => ({ field: l.dataset.field, text: l.textContent })))
    out.shots.push(await shot(page, run, 'corrections'))
    await page.click(`${entry} .correct`)
    await page.waitForSelector('#correct-form')
    out.invalid = await page.$$eval('#correct-form .field.invalid input', (is) => is.map((i) => i.name))
    out.labels = await page.$$eval('#correct-form label', (ls) => ls.map((l) => l.textContent))
    out.shots.push(await shot(page, run, 'correct-form'))
    await page.fill(`#correct-form input[name="${run.correct.field}"]`, run.correct.value)
    await page.click('#correct-submit')
    await page.waitForSelector('#correct-done', { timeout: 20000 })
    out.done = await page.textContent('#correct-done')
    out.after = await page.$$eval('#corrections-list .entry', (es) => es.map((e) => e.dataset.number))
    out.shots.push(await shot(page, run, 'corrected'))

    // Upload with the upload throttled; watch the progress bar.
    await page.click('#nav a[data-tab="upload"]')
    await page.waitForSelector('#upload-file')
    const cdp = await context.newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: run.upload.bytesPerSecond
    })
    await page.setInputFiles('#upload-file', run.upload.file)
    await page.evaluate(() => {
      window.__progress = []
      const p = document.querySelector('#upload-progress')
      new MutationObserver(() => {
        window.__progress.push({ value: Number(p.getAttribute('value')), at: performance.now(), text: document.querySelector('#upload-percent').textContent })
      }).observe(p, { attributes: true, attributeFilter: ['value'] })
    })
    await page.click('#upload-button')
    // A screenshot while the bar is moving.
    await page.waitForFunction(() => window.__progress.some((p) => p.value > 0 && p.value < 100), null, { timeout: 60000 })
    out.shots.push(await shot(page, run, 'uploading'))
    await page.waitForSelector('#upload-summary', { timeout: 180000 })
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
    out.progress = await page.evaluate(() => window.__progress)
    out.upload = await page.evaluate(() => {
      const s = document.querySelector('#upload-summary')
      const count = (k) => s.querySelector(`[data-count="${k}"]`).textContent
      return {
        id: s.dataset.id,
        complete: s.dataset.complete,
        records: count('records'),
        signed: count('signed'),
        non_conforming: count('non_conforming'),
        malformed: count('malformed'),
        rows: [...document.querySelectorAll('#upload-rows tbody tr')].map((r) => ({ line: r.dataset.line, text: r.textContent }))
      }
    })
    out.shots.push(await shot(page, run, 'uploaded'))
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#report-download')])
    out.download = { name: download.suggestedFilename(), path: join(config.shots, `${run.name}-report.csv`) }
    await download.saveAs(out.download.path)

    // Change a status with its decision; the history shows it.
    await page.click('#nav a[data-tab="status"]')
    await page.waitForSelector('#status-form')
    await page.selectOption('#status-type', run.status.type)
    await page.fill('#status-number', run.status.number)
    await page.selectOption('#status-action', 'suspended')
    await page.fill('#status-reason', run.status.reason)
    await page.fill('#status-doc', run.status.doc)
    out.date = await page.inputValue('#status-date')
    out.typeOptions = await page.$$eval('#status-type option', (os) => os.map((o) => o.textContent))
    await page.click('#status-submit')
    await page.waitForSelector('#status-done', { timeout: 20000 })
    await page.waitForSelector('#history-changes tbody tr', { timeout: 20000 })
    out.statusDone = await page.textContent('#status-done')
    out.history = await page.$$eval('#history-changes tbody tr', (rs) => rs.map((r) => ({
      to: r.dataset.to,
      reason: r.querySelector('.reason').textContent,
      date: r.querySelector('.date').textContent,
      doc: r.querySelector('.doc').textContent,
      text: r.textContent
    })))
    out.historyStatus = await page.textContent('#history-status')
    out.shots.push(await shot(page, run, 'status'))

    // Report an outage: it is listed with its re-push deadline.
    await page.click('#nav a[data-tab="outages"]')
    await page.waitForSelector('#outage-form')
    await page.fill('#outage-from', run.outage.from)
    await page.fill('#outage-until', run.outage.until)
    await page.fill('#outage-reason', run.outage.reason)
    await page.click('#outage-submit')
    await page.waitForSelector('#outage-done', { timeout: 20000 })
    out.outageDone = await page.textContent('#outage-done')
    out.outages = await page.$$eval('#outages tbody tr', (rs) => rs.map((r) => ({
      reason: r.querySelector('.reason').textContent,
      deadline: r.querySelector('.deadline').textContent,
      basis: r.querySelector('.basis').textContent,
      text: r.textContent
    })))
    out.shots.push(await shot(page, run, 'outages'))
    out.overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)
    report.runs.push(out)
    await context.close()
  }
} finally {
  report.console = console_
  report.external = external
  await writeFile(config.out, JSON.stringify(report, null, 2))
  await browser.close()
}
