// Opens the evaluation dashboard in headless Chromium (playwright-core, the
// system's /usr/bin/chromium) and reports what it shows as one JSON object
// on stdout. Run by tests/dashboard.rs, which starts the server and
// compares the report with GET /api/v1/evaluation.
//
// env: DASH_URL (http://127.0.0.1:PORT), TOKEN, YEAR, PLAYWRIGHT_DIR (a
//      node_modules holding playwright-core), CHROMIUM (default /usr/bin/chromium)
import { createRequire } from 'node:module'
import { join } from 'node:path'

const { DASH_URL, TOKEN, YEAR, PLAYWRIGHT_DIR } = process.env
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
if (!DASH_URL || !TOKEN || !YEAR || !PLAYWRIGHT_DIR) {
  console.error('dashboard.mjs: set DASH_URL, TOKEN, YEAR and PLAYWRIGHT_DIR')
  process.exit(2)
}
const require = createRequire(join(PLAYWRIGHT_DIR, 'noop.js'))
const { chromium } = require('playwright-core')

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
try {
  const page = await browser.newPage()
  const requests = []
  page.on('request', r => requests.push(r.url()))
  await page.goto(`${DASH_URL}/admin/dashboard?year=${YEAR}`)
  await page.fill('#token', TOKEN)
  await Promise.all([page.waitForNavigation(), page.click('#show')])
  await page.waitForSelector('#scores')
  const shown = await page.evaluate(() => {
    const text = (el, sel) => el.querySelector(sel)?.textContent.trim()
    const rows = [...document.querySelectorAll('#scores tr[data-division]')].map(tr => ({
      division: Number(tr.dataset.division),
      issuance: text(tr, '.iss-frac'),
      issuance_points: Number(text(tr, '.iss-pts')),
      activation: text(tr, '.act-frac'),
      activation_points: Number(text(tr, '.act-pts')),
      training_points: Number(text(tr, '.trn-pts')),
      display_points: Number(text(tr, '.dsp-pts')),
      total: Number(text(tr, '.total')),
      anomalies: Number(text(tr, '.anomalies'))
    }))
    const lines = id => [...document.querySelectorAll(`#${id} polyline`)].map(p => ({
      division: Number(p.dataset.division),
      points: p.getAttribute('points').trim().split(/\s+/).length
    }))
    const count = id => document.querySelectorAll(`#${id} tr`).length - 1
    const box = document.querySelector('#chart-activation').getBoundingClientRect()
    return {
      rows,
      issuance_lines: lines('chart-issuance'),
      activation_lines: lines('chart-activation'),
      chart_visible: box.width > 100 && box.height > 100,
      incidents: Math.max(count('incidents'), 0),
      anomalies: Math.max(count('anomalies'), 0),
      overdue: Math.max(count('overdue'), 0),
      corrections: Math.max(count('corrections'), 0),
      title: document.title
    }
  })
  shown.url = page.url()
  shown.foreign_requests = requests.filter(u => !u.startsWith(DASH_URL))
  console.log(JSON.stringify(shown))
} finally {
  await browser.close()
}
