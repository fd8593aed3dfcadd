// The officer's scanner page, served by `field-client serve` on the device.
// Scans with the camera (getUserMedia; back camera first, front on demand,
// torch where offered), decodes in the page with the native BarcodeDetector
// when the browser has one and otherwise with the bundled barcode-detector
// polyfill (zxing-wasm, its wasm served by field-client), or with
// ?decoder=rust by sending frames to field-client's Rust decoder. Also takes
// keyboard-wedge scanners (text typed, then Enter) and pasted/typed text.
// Every check is answered by field-client, which logs it durably first.
// Data from the server or a QR code is only ever written with textContent.
import { BarcodeDetector as PolyfillDetector, prepareZXingModule } from 'barcode-detector/ponyfill'

const $ = (id) => document.getElementById(id)
const params = new URLSearchParams(location.search)
const DECODER = params.get('decoder') === 'rust' ? 'rust' : 'wasm'
const REPEAT_MS = 5000
const CLEAR_MS = 30000
const MAX_SIDE = 1280

// Measurements, read by the browser tests and benchmarks: each verdict
// shown, with when the first frame carrying a code was seen.
const metrics = { decoder: DECODER, native: false, shown: [], decodes: [], contentSince: null, frames: 0 }
window.__scanner = metrics

prepareZXingModule({
  overrides: {
    // The wasm is served by field-client next to app.js, never from a CDN.
    locateFile: (path, prefix) => (path.endsWith('.wasm') ? new URL(path, location.href).href : prefix + path)
  }
})

let detector = null
async function getDetector () {
  if (detector) return detector
  if ('BarcodeDetector' in window && params.get('native') !== '0') {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats()
      if (formats.includes('qr_code')) {
        detector = new window.BarcodeDetector({ formats: ['qr_code'] })
        metrics.native = true
        return detector
      }
    } catch (_) { /* fall back to the polyfill */ }
  }
  detector = new PolyfillDetector({ formats: ['qr_code'] })
  return detector
}

// ---------------------------------------------------------------- API

async function api (path, opts = {}) {
  const r = await fetch(path, { cache: 'no-store', ...opts })
  let body = null
  try { body = await r.json() } catch (_) { body = null }
  if (!r.ok) {
    const msg = body && typeof body.message === 'string' ? body.message : `HTTP ${r.status}`
    const err = new Error(msg)
    err.code = body && body.error
    throw err
  }
  return body
}

const postJson = (path, value) => api(path, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value)
})

function el (tag, cls, text) {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined && text !== null) e.textContent = String(text)
  return e
}

function showError (message) {
  const e = $('error')
  e.textContent = message
  e.hidden = !message
}

// ---------------------------------------------------------------- result

const VERDICTS = {
  valid: ['有效', 'VALID'],
  invalid: ['无效', 'INVALID'],
  cannot_confirm: ['无法确认', 'CANNOT CONFIRM']
}

function age (s) {
  if (s === null || s === undefined) return '无状态数据 no status data'
  if (s < 60) return `${s} 秒 s`
  if (s < 3600) return `${Math.floor(s / 60)} 分钟 min`
  if (s < 86400) return `${Math.floor(s / 3600)} 小时 ${Math.floor((s % 3600) / 60)} 分 h`
  return `${Math.floor(s / 86400)} 天 ${Math.floor((s % 86400) / 3600)} 小时 d`
}

let current = null
let clearTimer = null
let countdownTimer = null

function clearResult () {
  current = null
  $('result').hidden = true
  document.body.dataset.verdict = ''
  clearTimeout(clearTimer)
  clearInterval(countdownTimer)
}

function row (parent, labelZh, labelEn, value, warn) {
  const r = el('div', warn ? 'field warn' : 'field')
  const l = el('div', 'label')
  l.append(el('span', 'zh', labelZh), el('span', 'en', labelEn))
  r.append(l, el('div', 'value', value))
  parent.append(r)
}

function showResult (res, firstSeen) {
  clearTimeout(clearTimer)
  clearInterval(countdownTimer)
  current = res
  const [zh, en] = VERDICTS[res.verdict] || ['?', String(res.verdict)]
  const box = $('result')
  box.dataset.verdict = res.verdict
  document.body.dataset.verdict = res.verdict
  $('verdict-zh').textContent = zh
  $('verdict-en').textContent = en
  $('reason').textContent = res.reason ? `${res.reason_zh || ''} · ${res.reason_en || res.reason}` : ''
  $('next').textContent = res.next_step_zh ? `下一步：${res.next_step_zh} / ${res.next_step_en || ''}` : ''
  const face = $('face')
  face.replaceChildren()
  const f = res.face
  if (f) {
    row(face, '证照', 'Certificate', `${f.type_name_zh} ${f.type_name_en}`)
    row(face, '证号', 'Number', f.printed_number)
    for (const x of f.fields || []) row(face, x.label_zh, x.label_en, x.value, Boolean(x.warn))
    row(face, '有效期', 'Validity', f.validity, f.expired)
    row(face, '发证机关', 'Issued by', f.issuer_name)
  }
  const warnings = (res.warnings || []).map((w) => w.message_zh || w.code)
  const meta = $('meta')
  meta.replaceChildren()
  for (const w of warnings) meta.append(el('div', 'warning', `⚠ ${w}`))
  if (res.presented_by) meta.append(el('div', 'presented-by', `${res.presented_by.message_zh} · driver presentation`))
  else if (res.holder_presentation) meta.append(el('div', '', '持证人手机动态码 · holder presentation'))
  if (res.kind === 'lookup') {
    const by = LOOKUP_BY[res.by] || res.by
    meta.append(el('div', '', `联网查询 Online lookup · 按${by} · 查到 ${res.found} 个 found${res.status ? ` · 系统状态 status: ${res.status}` : ''}`))
    meta.append(el('div', '', `服务器查询时间 Server time: ${res.at_cst}（北京时间 CST）`))
  } else {
    meta.append(el('div', '', `数据时效 Data age: ${age(res.data_age_seconds)}`))
  }
  meta.append(el('div', '', `查验编号 Check ID: ${res.check_id} · ${res.at_cst || ''}${res.repeat ? ' · 重复扫描，未重复记录 repeat scan, not logged again' : ''}`))
  // A code in another format is not ours to judge: offer the lookup.
  $('offerlookup').hidden = res.reason !== 'unrecognised_code'
  $('decide').hidden = false
  $('refuseform').hidden = true
  $('decided').textContent = ''
  box.hidden = false
  const shown = performance.now()
  metrics.shown.push({ kind: res.kind || 'check', verdict: res.verdict, reason: res.reason || null, check_id: res.check_id, repeat: Boolean(res.repeat), shown, firstSeen })
  let left = CLEAR_MS / 1000
  $('countdown').textContent = `${left} 秒后清除 clears in ${left} s`
  countdownTimer = setInterval(() => {
    left -= 1
    $('countdown').textContent = `${left} 秒后清除 clears in ${left} s`
  }, 1000)
  clearTimer = setTimeout(clearResult, CLEAR_MS)
  window.scrollTo(0, 0)
}

// ---------------------------------------------------------------- checks

let last = { text: null, at: 0 }
let inflight = false

async function check (text, source, firstSeen) {
  const now = performance.now()
  if (text === last.text && now - last.at < REPEAT_MS) return // the same code again: one check
  last = { text, at: now }
  showError('')
  try {
    const res = await postJson('/api/check', { text, source })
    showResult(res, firstSeen)
    refreshToday()
  } catch (e) {
    showError(`查验失败 check failed: ${e.message}`)
  }
}

$('typed').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const input = $('text')
  const text = input.value.trim()
  input.value = ''
  if (text) check(text, 'typed', performance.now())
})

// Keyboard wedge: a hardware scanner types fast and ends with Enter. Keys
// arriving outside any input are collected and checked on Enter.
let wedge = ''
let wedgeAt = 0
document.addEventListener('keydown', (ev) => {
  const t = ev.target
  if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return
  const now = performance.now()
  if (now - wedgeAt > 500) wedge = ''
  wedgeAt = now
  if (ev.key === 'Enter') {
    const text = wedge.trim()
    wedge = ''
    if (text) check(text, 'wedge', now)
    ev.preventDefault()
  } else if (ev.key.length === 1 && wedge.length < 8192) {
    wedge += ev.key
  }
})

// ---------------------------------------------------------------- online lookup

const LOOKUP_BY = { plate: '车牌号 plate', id_number: '身份证号 ID number', number: '证号 number' }

function lookupMessage (text) {
  const m = $('lookupmsg')
  m.textContent = text
  m.hidden = !text
}

$('lookupform').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const by = $('lookupby').value
  const value = $('lookupvalue').value.trim()
  if (!value) { lookupMessage('请输入要查询的号码 type what to look for'); return }
  lookupMessage('')
  showError('')
  $('lookupgo').disabled = true
  try {
    const res = await postJson('/api/lookup', { by, value })
    metrics.lookups = (metrics.lookups || 0) + 1
    showResult(res, performance.now())
    refreshToday()
  } catch (e) {
    metrics.lookupErrors = [...(metrics.lookupErrors || []), e.code || 'error']
    lookupMessage(e.code === 'offline'
      ? '联网查询需要网络连接：现在连不上服务器，本次未查询、未记录。请扫码查验，或联网后再查。 / Lookup needs a connection: the server cannot be reached; nothing was looked up or logged.'
      : `查询失败 lookup failed: ${e.message}`)
  } finally {
    $('lookupgo').disabled = false
  }
})

$('golookup').addEventListener('click', () => {
  const input = $('lookupvalue')
  input.scrollIntoView({ block: 'center' })
  input.focus()
})

// ---------------------------------------------------------------- decisions

async function decide (accepted, reason) {
  if (!current) return
  try {
    const d = await postJson('/api/dispose', { check_id: current.check_id, accepted, reason })
    $('decide').hidden = true
    $('refuseform').hidden = true
    $('decided').textContent = accepted
      ? '已记录：接受 recorded: accepted'
      : `已记录：拒绝 recorded: refused${d.valid_refused_incident ? ' — 有效证照被拒绝，将计入亮证查验事件 a VALID certificate was refused: counted as an incident' : ''}`
    refreshToday()
  } catch (e) {
    showError(`记录失败 could not record: ${e.message}`)
  }
}

$('accept').addEventListener('click', () => decide(true, ''))
$('refuse').addEventListener('click', () => { $('refuseform').hidden = false })
$('refusereason').addEventListener('change', () => { $('refuseother').hidden = $('refusereason').value !== 'other' })
$('refuseform').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const sel = $('refusereason').value
  const reason = sel === 'other' ? $('refuseother').value.trim() : sel
  if (!reason) { showError('请选择拒绝原因 choose a reason'); return }
  decide(false, reason)
})
$('clear').addEventListener('click', clearResult)

// ---------------------------------------------------------------- today, status, sync

async function refreshToday () {
  try {
    const t = await api('/api/checks')
    $('todaydate').textContent = `${t.date_cst}（北京时间 CST）`
    const list = $('checks')
    list.replaceChildren()
    for (const c of t.checks.slice(0, 200)) {
      const li = el('li', `check ${c.verdict}`)
      const [zh] = VERDICTS[c.verdict] || ['?']
      li.append(el('span', 'time', c.time_cst), el('span', 'v', zh),
        el('span', 'what', c.type_name_zh ? `${c.type_name_zh} ${c.number}` : (c.reason_zh || '')))
      if (c.decision) li.append(el('span', 'dec', c.decision.accepted ? '接受' : `拒绝：${c.decision.note}`))
      if (!c.uploaded) li.append(el('span', 'pending', '待上传'))
      list.append(li)
    }
  } catch (e) { /* shown by the status line */ }
}

const STALE = {
  not_enrolled: '本设备未注册，无法查验：请先运行 field-client enroll / not enrolled',
  no_lists: '尚未同步名单：所有查验均为“无法确认”，请同步 / never synced: sync now',
  older_than_ttl: '名单已超过更新周期，请尽快同步 / lists are older than their refresh period: sync soon',
  too_old: '名单过旧，查验结果将为“无法确认”，请立即同步 / lists too old: sync now',
  store_tampered: '本机名单数据被改动或损坏，查验结果均为“无法确认”：请重新同步，仍不行请重新注册设备 / the local store was altered: sync, re-enroll if that fails'
}

async function refreshStatus () {
  try {
    const s = await api('/api/status')
    const banner = $('stale')
    const msg = STALE[s.stale]
    banner.textContent = msg || ''
    banner.hidden = !msg
    banner.dataset.level = s.stale === 'older_than_ttl' ? 'warn' : 'bad'
    $('statusline').textContent = s.enrolled
      ? `数据时效 data age: ${age(s.data_age_seconds)} · 上次同步 last sync: ${s.last_sync_cst || '从未 never'}（北京时间）· 待上传 pending: ${s.checks_pending}`
      : '未注册 not enrolled'
  } catch (e) {
    $('statusline').textContent = `本机服务无响应 local service not answering: ${e.message}`
  }
}

async function runSync () {
  const panel = $('syncpanel')
  panel.hidden = false
  panel.dataset.state = 'running'
  $('syncbar').removeAttribute('value')
  $('sync').disabled = true
  try {
    await postJson('/api/sync', {})
  } catch (e) {
    if (e.code !== 'sync_running') {
      $('syncmsg').textContent = `同步无法开始 could not start: ${e.message}`
      panel.dataset.state = 'failed'
      $('sync').disabled = false
      return
    }
  }
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300))
    let p
    try { p = await api('/api/sync') } catch (e) { continue }
    const msgs = p.messages || []
    $('syncmsg').textContent = msgs.length ? msgs[msgs.length - 1] : ''
    $('syncbar').max = 6
    $('syncbar').value = Math.min(msgs.length, 6)
    if (!p.running) {
      const ok = p.outcome && p.outcome.ok
      panel.dataset.state = ok ? 'ok' : 'failed'
      $('syncbar').value = 6
      $('syncmsg').textContent = (p.outcome && p.outcome.message) || ''
      break
    }
  }
  $('sync').disabled = false
  refreshStatus()
  refreshToday()
}
$('sync').addEventListener('click', runSync)

// ---------------------------------------------------------------- camera

let stream = null
let facing = 'environment'
let torchOn = false
const canvas = document.createElement('canvas')
const ctx = canvas.getContext('2d', { willReadFrequently: true })
const probe = document.createElement('canvas')
probe.width = 16
probe.height = 16
const probeCtx = probe.getContext('2d', { willReadFrequently: true })

// Each presented camera frame is seen once here (requestVideoFrameCallback):
// a 16×16 luminance probe of it is kept as the frame's signature, and the
// scan loop is woken. The loop decodes each new frame at most once and
// skips a frame identical (by its probe) to one that just failed to
// decode: the same pixels give the same answer, and on a loaded phone the
// decoder's time is better spent on the next new frame.
let frameSerial = 0
const frameSig = new Uint8Array(256)
let wake = null

// Whether the frame shows anything but a flat field (instrumentation: the
// benchmark measures from the first frame that shows a code).
function probeFrame (video) {
  probeCtx.drawImage(video, 0, 0, 16, 16)
  const d = probeCtx.getImageData(0, 0, 16, 16).data
  let min = 255; let max = 0
  for (let i = 0, j = 0; i < d.length; i += 4, j += 1) {
    const y = (d[i] * 3 + d[i + 1] * 6 + d[i + 2]) / 10
    frameSig[j] = y
    if (y < min) min = y
    if (y > max) max = y
  }
  return max - min > 40
}

function watchFrames (video) {
  if (!('requestVideoFrameCallback' in video)) return
  const onFrame = (now) => {
    metrics.frames += 1
    frameSerial += 1
    if (probeFrame(video)) {
      if (metrics.contentSince === null) metrics.contentSince = now
    } else {
      metrics.contentSince = null
    }
    if (wake) { const w = wake; wake = null; w() }
    if (stream) video.requestVideoFrameCallback(onFrame)
  }
  video.requestVideoFrameCallback(onFrame)
}

// Resolves at the next presented frame (or after `ms` without one).
function nextFrame (ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { wake = null; resolve() }, ms)
    wake = () => { clearTimeout(t); resolve() }
  })
}

async function startCamera () {
  stopCamera()
  showError('')
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError('此浏览器不能使用摄像头；请用扫码枪或输入 / no camera API here: use the scanner or type')
    return
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } }
    })
  } catch (e) {
    showError(`无法打开摄像头 camera unavailable: ${e.name || e.message}`)
    return
  }
  const video = $('video')
  video.srcObject = stream
  await video.play().catch(() => {})
  $('camstate').hidden = true
  $('flip').disabled = false
  $('camera').textContent = '关闭摄像头 Stop camera'
  const track = stream.getVideoTracks()[0]
  const caps = track && track.getCapabilities ? track.getCapabilities() : {}
  $('torch').hidden = !caps.torch
  torchOn = false
  watchFrames(video)
  scanLoop()
}

function stopCamera () {
  if (stream) for (const t of stream.getTracks()) t.stop()
  stream = null
  $('camstate').hidden = false
  $('torch').hidden = true
  $('camera').textContent = '开启摄像头 Start camera'
}

$('camera').addEventListener('click', () => (stream ? stopCamera() : startCamera()))
$('flip').addEventListener('click', () => {
  facing = facing === 'environment' ? 'user' : 'environment'
  startCamera()
})
$('torch').addEventListener('click', async () => {
  const track = stream && stream.getVideoTracks()[0]
  if (!track) return
  torchOn = !torchOn
  try { await track.applyConstraints({ advanced: [{ torch: torchOn }] }) } catch (_) { torchOn = false }
  $('torch').classList.toggle('on', torchOn)
})

function grab (video) {
  const w = video.videoWidth; const h = video.videoHeight
  if (!w || !h) return false
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h))
  const cw = Math.round(w * scale); const ch = Math.round(h * scale)
  // Resizing a canvas reallocates it: only when the camera's size changes.
  if (canvas.width !== cw || canvas.height !== ch) { canvas.width = cw; canvas.height = ch }
  ctx.drawImage(video, 0, 0, cw, ch)
  return true
}

async function decodeWasm () {
  const d = await getDetector()
  const codes = await d.detect(canvas)
  return codes.map((c) => c.rawValue).filter(Boolean)
}

async function decodeRust () {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92))
  if (!blob) return []
  const r = await api('/api/decode', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: blob })
  return r.texts || []
}

function sameAs (sig, other) {
  if (!other) return false
  for (let i = 0; i < sig.length; i += 1) if (sig[i] !== other[i]) return false
  return true
}

async function scanLoop () {
  const video = $('video')
  const perFrame = 'requestVideoFrameCallback' in video
  let decoded = -1
  let missed = null // the probe of the last frame that held no readable code
  while (stream) {
    const fresh = !perFrame || frameSerial !== decoded
    if (fresh && !inflight && video.readyState >= 2) {
      decoded = frameSerial
      if (perFrame && sameAs(frameSig, missed)) {
        metrics.skipped = (metrics.skipped || 0) + 1
      } else if (grab(video)) {
        const sig = perFrame ? frameSig.slice() : null
        inflight = true
        const firstSeen = metrics.contentSince ?? performance.now()
        const t0 = performance.now()
        try {
          const texts = DECODER === 'rust' ? await decodeRust() : await decodeWasm()
          metrics.decodes.push({ ms: performance.now() - t0, found: texts.length })
          // Only the page's decoder is deterministic: field-client's
          // stops at a time limit, so a miss there may read next time.
          missed = texts.length || DECODER === 'rust' ? null : sig
          if (texts.length) await check(texts[0], 'camera', firstSeen)
        } catch (e) {
          showError(`识别出错 decode error: ${e.message}`)
        } finally {
          inflight = false
        }
      }
    }
    // Wait for the camera's next frame rather than polling the same one.
    await (perFrame ? nextFrame(200) : new Promise((resolve) => setTimeout(resolve, 15)))
  }
}

// Decode one image file with the page's decoder (benchmarks and the
// "not an image" test use this through the console).
window.__decodeImage = async (blob) => {
  const bmp = await createImageBitmap(blob)
  canvas.width = bmp.width
  canvas.height = bmp.height
  ctx.drawImage(bmp, 0, 0)
  bmp.close()
  return DECODER === 'rust' ? decodeRust() : decodeWasm()
}

// ---------------------------------------------------------------- start

refreshStatus()
refreshToday()
setInterval(refreshStatus, 30000)
getDetector().then((d) => (DECODER === 'wasm' && !metrics.native ? d.detect(new ImageData(8, 8)) : null))
  .catch(() => {}) // warms the wasm up before the first frame
if (params.get('camera') !== '0') startCamera()
