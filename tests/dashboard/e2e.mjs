// The manager's dashboard in headless Chromium (playwright-core, the
// system's Chromium), at phone (390 px) and desktop (1280 px) width: sign
// in, drill down province → city → county → agency, enter a complaint
// (a formula-like text), export the incidents CSV, enter training with a
// file and download it back, enter a declared count. Run by
// tests/tests/dashboard.rs, which checks what this reports (one JSON
// object on stdout) against the server.
//
// env: DASH_URL, TOKEN, YEAR, CITY, COUNTY, FILE (the evidence to upload),
//      SHOTS (screenshot directory), PLAYWRIGHT_DIR, CHROMIUM
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'

const env = process.env
for (const k of ['DASH_URL', 'TOKEN', 'YEAR', 'CITY', 'COUNTY', 'FILE', 'SHOTS', 'PLAYWRIGHT_DIR']) {
  if (!env[k]) { console.error(`e2e.mjs: set ${k}`); process.exit(2) }
}
const require = createRequire(join(env.PLAYWRIGHT_DIR, 'noop.js'))
const { chromium } = require('playwright-core')
const sha = b => createHash('sha256').update(b).digest('hex')

const browser = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
const report = { widths: {} }
try {
  for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 900 }]]) {
    const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true })
    const page = await ctx.newPage()
    const requests = []
    page.on('request', r => requests.push(r.url()))
    const shot = async step => page.screenshot({ path: join(env.SHOTS, `${name}-${step}.png`), fullPage: step !== 'overview' })
    const r = { urls: [] }
    const visit = () => r.urls.push(page.url())

    await page.goto(`${env.DASH_URL}/admin/dashboard?year=${env.YEAR}`)
    await shot('sign-in')
    await page.fill('#token', env.TOKEN)
    await Promise.all([page.waitForURL('**/admin/dashboard/view**'), page.click('#show')])
    visit()
    await page.waitForSelector('#scores')
    r.overview_rows = await page.locator('#scores tr[data-division]').count()
    r.overview_text = await page.locator('main').innerText()
    r.overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    await shot('overview')

    // Province → city → county → agency.
    await Promise.all([page.waitForURL(`**division=${env.CITY}**`), page.click(`#scores a.drill[href*="division=${env.CITY}"]`)])
    visit()
    r.city_unit = await page.locator('#unit').innerText()
    await shot('city')
    await Promise.all([page.waitForURL(`**division=${env.COUNTY}**`), page.click(`#scores a.drill[href*="division=${env.COUNTY}"]`)])
    visit()
    r.county_unit = await page.locator('#unit').innerText()
    r.county_crumbs = await page.locator('#crumbs').innerText()
    await shot('county')
    await Promise.all([page.waitForURL('**/admin/dashboard/agency/**'), page.click('#scores a.agency')])
    visit()
    r.agency_name = await page.locator('#agency-name').innerText()
    r.agency_text = await page.locator('main').innerText()
    r.agency_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    await shot('agency')
    // The city's own agency, with its open correction list.
    await page.goto(`${env.DASH_URL}/admin/dashboard/agency/${env.CITY}?year=${env.YEAR}`)
    r.city_agency_text = await page.locator('main').innerText()
    r.city_agency_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    await shot('city-agency')

    // A complaint whose text a spreadsheet would run, then its export.
    await page.goto(`${env.DASH_URL}/admin/dashboard/view?year=${env.YEAR}&division=${env.CITY}`)
    await page.selectOption('#c-division', env.CITY)
    await page.fill('#c-description', "=cmd|' /C calc'!A0 拒认投诉")
    await page.check('#c-upheld')
    await Promise.all([page.waitForURL('**saved=complaint**'), page.click('#complaint-submit')])
    r.complaint_saved = await page.locator('#saved').innerText()
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-incidents')])
    r.csv_name = csv.suggestedFilename()
    r.csv_base64 = readFileSync(await csv.path()).toString('base64')

    // Training with a file, and the file back.
    await page.selectOption('#t-division', env.CITY)
    await page.selectOption('#t-coverage', 'full')
    await page.fill('#t-description', `全市执法人员培训（${name}）`)
    await page.setInputFiles('#t-file', env.FILE)
    await page.fill('#t-file-description', '培训签到表')
    await Promise.all([page.waitForURL('**saved=training**'), page.click('#training-submit')])
    r.training_saved = await page.locator('#saved').innerText()
    const link = page.locator('#training a.evidence').last()
    r.evidence_sha256 = await link.getAttribute('data-sha256')
    const [file] = await Promise.all([page.waitForEvent('download'), link.click()])
    r.download_sha256 = sha(readFileSync(await file.path()))
    r.upload_sha256 = sha(readFileSync(env.FILE))
    await shot('training')

    // A declared count.
    await page.selectOption('#d-division', '210200')
    await page.selectOption('#d-type', 'YSZ')
    await page.fill('#d-count', '5')
    await Promise.all([page.waitForURL('**saved=declared**'), page.click('#declared-submit')])
    r.declared_saved = await page.locator('#saved').innerText()
    await shot('forms')

    r.foreign_requests = requests.filter(u => !u.startsWith(env.DASH_URL))
    report.widths[name] = r
    await ctx.close()
  }
  console.log(JSON.stringify(report))
} finally {
  await browser.close()
}
