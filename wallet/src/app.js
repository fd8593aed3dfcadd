// 辽宁省道路运输电子证照 · 持证人钱包 (holder wallet).
//
// Sign in (通过运证通, or the holder token: signin.js), create this phone's device key (Ed25519,
// non-extractable, kept in IndexedDB), register it so the server issues
// holder-bound certificates (claim 10 = this key), keep them in IndexedDB,
// and show one as a QR of a fresh presentation re-signed every 30 s.
import QRCode from 'qrcode'
import { get, set, del } from 'idb-keyval'
import {
  SLOT_SECONDS, base64url, boundKey, certificateBytes, presentation, sameBytes, slotOf
} from './cose.js'
import { el } from './dom.js'
import { finishYzt, renderSignIn as signInScreen, takeRedirect } from './signin.js'
import { renderGrants } from './grants.js'
import { givenCount, ownsVehicle, renderDelegations } from './delegations.js'

const API = '/api/v1/holder'
const STATUS_ZH = { valid: '有效', revoked: '已注销', suspended: '已暂停', superseded: '已被新版本取代' }
const CST_MS = 8 * 3600 * 1000

const $ = (sel) => document.querySelector(sel)
const main = () => $('#main')

// ---- state kept on the phone ----------------------------------------------

let wallet = null // { token, certs: [...], syncedAt, syncError, clockOffsetMs }
let showTimer = null

// ---- time: the server's, not the phone's ------------------------------------
//
// The presentation's 30-second slot must be the verifier's slot, so the
// wallet learns the server's time at each sync (its `Date` header, read
// when the answer arrives, half the round trip added) and keeps the offset
// to the phone clock with the wallet. A phone whose clock is hours off still
// shows a code that verifies; see docs/wire-format.md for the window left.
let pendingOffsetMs = null

function learnServerTime (res, sentMs) {
  const date = Date.parse(res.headers.get('Date') || '')
  if (Number.isNaN(date)) return
  const receivedMs = Date.now()
  // The header is truncated to the second: its middle is 500 ms later.
  pendingOffsetMs = date + 500 + (receivedMs - sentMs) / 2 - receivedMs
}

/** Now, Unix milliseconds, by the server's clock as of the last sync. */
function nowMs () {
  return Date.now() + (wallet?.clockOffsetMs || 0)
}

async function loadWallet () {
  wallet = (await get('wallet')) || null
}

async function saveWallet () {
  await set('wallet', wallet)
}

/** This phone's device key, created on first use. */
async function deviceKey () {
  let key = await get('deviceKey')
  if (!key) {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    // IndexedDB keeps the CryptoKey by structured clone: still non-extractable.
    key = { privateKey: pair.privateKey, publicRaw, createdAt: Date.now() }
    await set('deviceKey', key)
  }
  return key
}

// ---- server ---------------------------------------------------------------

class HttpError extends Error {
  constructor (status, detail) {
    super(detail)
    this.status = status
  }
}

async function api (method, path, token, body) {
  const sentMs = Date.now()
  const res = await fetch(API + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    cache: 'no-store'
  })
  if (!res.ok) {
    let detail = res.statusText
    try { detail = (await res.json()).detail || detail } catch (_) {}
    throw new HttpError(res.status, detail)
  }
  learnServerTime(res, sentMs)
  return res.json()
}

async function withBytes (certs) {
  const out = []
  for (const c of certs) out.push({ ...c, bytes: await certificateBytes(c.qr) })
  return out
}

/**
 * Fetches the holder's certificates; registers this device's key when a
 * valid certificate is not yet bound to it (the server then issues the
 * bound versions and supersedes the old ones).
 */
async function sync (token) {
  const key = await deviceKey()
  let certs = await withBytes((await api('GET', '/certificates', token)).certificates)
  const unbound = certs.some((c) => c.status === 'valid' && !sameBytes(boundKey(c.bytes), key.publicRaw))
  if (unbound) {
    const reg = await api('POST', '/devices', token, { alg: 'EdDSA', public_key: base64url(key.publicRaw) })
    certs = await withBytes(reg.certificates)
  }
  return certs
}

async function refresh () {
  if (!wallet) return
  try {
    wallet.certs = await sync(wallet.token)
    if (pendingOffsetMs !== null) wallet.clockOffsetMs = pendingOffsetMs
    wallet.syncedAt = nowMs()
    wallet.syncError = null
    wallet.delegationsGiven = await givenCount(wallet.token)
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) {
      wallet.syncError = wallet.expiresAt && nowMs() >= wallet.expiresAt
        ? '登录已过期，请重新通过运证通登录'
        : '令牌无效或已被吊销，请重新登录'
    } else {
      wallet.syncError = navigator.onLine ? '无法连接服务器' : '离线'
    }
  }
  await saveWallet()
}

// ---- what the wallet knows about a certificate ----------------------------

function cstDay (text, addDays = 0) {
  const [y, m, d] = text.split('-').map(Number)
  return Date.UTC(y, m - 1, d + addDays) - CST_MS
}

/** Why this certificate cannot be shown now, or null. */
function blocked (cert, key, nowMs) {
  if (cert.status !== 'valid') return `证照${STATUS_ZH[cert.status] || cert.status}（截至上次同步），不能亮证`
  if (cert.valid_until && nowMs >= cstDay(cert.valid_until, 1)) return `证照已于 ${cert.valid_until} 过期，不能亮证`
  if (nowMs < cstDay(cert.valid_from)) return `证照自 ${cert.valid_from} 起生效，尚不能亮证`
  if (!sameBytes(boundKey(cert.bytes), key.publicRaw)) return '此证照尚未绑定本机，请联网同步后再亮证'
  return null
}

/** A vehicle certificate the owner lent to this driver: 授权使用, by whom, until when. */
function delegationNote (cert) {
  const d = cert.delegation
  return d ? el('div', { class: 'card-meta delegated' }, `授权使用 · 所有人 ${d.owner_name} · 至 ${d.valid_until}`) : null
}

function faceName (cert) {
  const first = cert.face.find((f) => ['name', 'holder_name', 'owner'].includes(f.key))
  return first ? first.value : ''
}

// ---- screens --------------------------------------------------------------

function statusBar () {
  const online = navigator.onLine && !wallet?.syncError
  const when = wallet?.syncedAt ? new Date(wallet.syncedAt).toLocaleString('zh-CN', { hour12: false, timeZone: 'Asia/Shanghai' }) : '从未'
  return el('div', { id: 'netstate', class: online ? 'online' : 'offline' },
    online ? `在线 · 上次同步 ${when}` : `${wallet?.syncError || '离线'} · 显示上次同步（${when}）的数据`)
}

function renderSignIn (message, code) {
  stopShow()
  signInScreen(main(), { message, code, useToken: signInWith })
}

/** Signs in with a holder token (pasted, or from 运证通 with its expiry). */
async function signInWith (token, expiresAt) {
  const certs = await sync(token)
  const clockOffsetMs = pendingOffsetMs ?? 0
  wallet = { token, certs, syncedAt: Date.now() + clockOffsetMs, syncError: null, clockOffsetMs, expiresAt }
  wallet.delegationsGiven = await givenCount(token)
  await saveWallet()
  renderList()
}

function renderList () {
  stopShow()
  const certs = wallet.certs || []
  const cards = certs.map((c, i) => {
    const state = blocked(c, keyCache, nowMs())
    return el('button', {
      class: 'card' + (state ? ' blocked' : ''),
      'data-index': String(i),
      'data-type': c.cert_type,
      'data-number': c.number,
      'data-valid-until': c.valid_until || '',
      onclick: () => renderShow(i)
    },
      el('div', { class: 'card-type' }, c.type_name_zh),
      el('div', { class: 'card-name' }, faceName(c)),
      el('div', { class: 'card-meta' }, `证号 ${c.number} · ${STATUS_ZH[c.status] || c.status}`),
      el('div', { class: 'card-meta' }, `有效期 ${c.valid_from} 至 ${c.valid_until || '长期'}`),
      delegationNote(c),
      state ? el('div', { class: 'card-warn' }, state) : null)
  })
  main().replaceChildren(
    statusBar(),
    el('h2', {}, '我的证照'),
    cards.length ? el('div', { id: 'cards' }, cards) : el('p', { id: 'empty' }, '暂无证照。如已办理，请稍后联网刷新或联系发证机关。'),
    el('div', { class: 'actions' },
      el('button', { id: 'refresh', onclick: async () => { await refresh(); renderList() } }, '刷新'),
      el('button', { id: 'grants', class: 'secondary', onclick: showGrants }, '授权管理'),
      ownsVehicle(certs) || wallet.delegationsGiven > 0
        ? el('button', { id: 'delegations', class: 'secondary', onclick: showDelegations }, '车辆授权')
        : null,
      el('button', { id: 'signout', class: 'secondary', onclick: signOut }, '退出登录')))
}

function showGrants () {
  stopShow()
  renderGrants(main(), { token: wallet.token, certs: wallet.certs, nowMs, back: renderList, header: [statusBar()] })
}

/** 车辆授权: an owner's delegations of its vehicle certificates to drivers. */
function showDelegations () {
  stopShow()
  renderDelegations(main(), { token: wallet.token, certs: wallet.certs, nowMs, back: renderList, header: [statusBar()] })
}

function renderShow (index) {
  stopShow()
  const cert = wallet.certs[index]
  const canvas = el('canvas', { id: 'qr', 'aria-label': '亮证二维码' })
  const countdown = el('p', { id: 'countdown' })
  const notice = el('p', { id: 'blocked', class: 'error' })
  const qrBox = el('div', { class: 'qr-box' }, canvas)
  const face = el('dl', { class: 'face' }, cert.face.flatMap((f) => [el('dt', {}, f.label_zh), el('dd', {}, f.value)]))
  main().replaceChildren(
    statusBar(),
    el('button', { class: 'back secondary', onclick: renderList }, '‹ 返回'),
    el('h2', {}, cert.type_name_zh),
    delegationNote(cert),
    qrBox, countdown, notice,
    el('p', { class: 'hint' }, '☀ 请调高屏幕亮度，将二维码对准执法人员的扫描设备。二维码每 30 秒自动更新，截图无效。'),
    face,
    el('p', { class: 'card-meta' }, `发证机关 ${cert.issuer_name} · 证照状态 ${STATUS_ZH[cert.status] || cert.status}`))
  let shownSlot = null
  let drawing = false
  const tick = async () => {
    const atMs = nowMs()
    const why = blocked(cert, keyCache, atMs)
    if (why) {
      qrBox.hidden = true
      countdown.textContent = ''
      notice.textContent = why
      canvas.removeAttribute('data-text')
      return
    }
    const now = atMs / 1000
    countdown.textContent = `${SLOT_SECONDS - Math.floor(now % SLOT_SECONDS)} 秒后刷新二维码`
    if (slotOf(now) === shownSlot || drawing) return
    drawing = true
    try {
      const started = performance.now()
      const p = await presentation(cert.bytes, keyCache.privateKey, now)
      // The width the page gives the QR (main's content box), at most 480 px.
      const css = Math.max(200, Math.min(qrBox.clientWidth || window.innerWidth - 24, 480))
      await QRCode.toCanvas(canvas, p.text, {
        errorCorrectionLevel: 'M', margin: 4, width: Math.round(css * (window.devicePixelRatio || 1)),
        color: { dark: '#000000', light: '#ffffff' }
      })
      canvas.style.width = css + 'px'
      canvas.style.height = css + 'px'
      canvas.dataset.text = p.text
      canvas.dataset.slot = String(p.slot)
      canvas.dataset.offset = String(Math.round(wallet.clockOffsetMs || 0))
      canvas.dataset.ms = (performance.now() - started).toFixed(1)
      canvas.dataset.version = String(QRCode.create(p.text, { errorCorrectionLevel: 'M' }).version)
      shownSlot = p.slot
    } catch (e) {
      notice.textContent = '无法生成二维码：' + e.message
    } finally {
      drawing = false
    }
  }
  tick()
  showTimer = setInterval(tick, 1000)
}

function stopShow () {
  if (showTimer) clearInterval(showTimer)
  showTimer = null
}

async function signOut () {
  await del('wallet')
  wallet = null
  renderSignIn()
}

// ---- start ----------------------------------------------------------------

let keyCache = null

async function start () {
  if (!window.isSecureContext || !crypto.subtle) {
    main().replaceChildren(el('p', { class: 'error' }, '此页面须通过 HTTPS（或本机地址）打开。'))
    return
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {})
  }
  try {
    keyCache = await deviceKey()
  } catch (e) {
    main().replaceChildren(el('p', { class: 'error' }, '此浏览器不支持 Ed25519 设备密钥，请升级浏览器。'))
    return
  }
  await loadWallet()
  const back = takeRedirect()
  if (back) return finishYzt(main(), back, { useToken: signInWith, showSignIn: renderSignIn })
  if (!wallet) return renderSignIn()
  renderList()
  await refresh()
  if (!showTimer) renderList()
}

window.addEventListener('online', () => { if (wallet && !showTimer) refresh().then(renderList) })
window.addEventListener('offline', () => { if (wallet && !showTimer) renderList() })
start()
