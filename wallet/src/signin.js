// The sign-in screen: "通过运证通登录" (the holder's real-name sign-in) and,
// for help desks, the holder token pasted by hand.
//
// 运证通, OAuth 2.0 style: the wallet makes a random `state`, keeps it in
// sessionStorage and sends the phone to 运证通's page (its address comes
// from GET /api/v1/holder/sign-in) with `redirect_uri` = this wallet. 运证通
// checks the person and comes back to /wallet/#assertion=JWT&state=STATE;
// the wallet takes the fragment out of the address bar, checks the state,
// and exchanges the assertion (single use, 2 minutes) at POST
// /api/v1/holder/sign-in for a one-hour holder token.
import { el, call } from './dom.js'

const STATE_KEY = 'yzt-state'

function randomState () {
  const bytes = crypto.getRandomValues(new Uint8Array(24))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Where this wallet lives: the redirect_uri 运证通 has registered. */
function walletAddress () {
  return new URL('./', location.href).href
}

/** Sends the phone to 运证通's sign-in page. */
function goToYzt (yztUrl) {
  const state = randomState()
  sessionStorage.setItem(STATE_KEY, state)
  const target = new URL(yztUrl, location.href)
  target.searchParams.set('response_type', 'assertion')
  target.searchParams.set('client_id', 'lnec-wallet')
  target.searchParams.set('redirect_uri', walletAddress())
  target.searchParams.set('state', state)
  location.assign(target.href)
}

/**
 * 运证通's answer in the URL fragment, taken out of the address bar (so a
 * reload or a shared link does not carry it): null when there is none,
 * else `{ assertion }` or `{ error }` (a Chinese message).
 */
export function takeRedirect () {
  const fragment = new URLSearchParams(location.hash.slice(1))
  if (!fragment.has('assertion') && !fragment.has('error')) return null
  history.replaceState(null, '', location.pathname + location.search)
  const expected = sessionStorage.getItem(STATE_KEY)
  sessionStorage.removeItem(STATE_KEY)
  if (!expected || fragment.get('state') !== expected) {
    return { error: '登录校验失败：运证通返回的 state 与本机发起的登录不一致（链接可能已失效或被篡改），请重新通过运证通登录。', code: 'state' }
  }
  if (fragment.has('error')) return { error: '您已取消运证通登录。', code: 'cancelled' }
  return { assertion: fragment.get('assertion') }
}

/** Why the server refused an assertion, in Chinese, from its problem type. */
function refusalText (e) {
  const type = e.type || ''
  if (type.endsWith('assertion-expired')) return '运证通登录凭证已过期（有效期 2 分钟），请重新通过运证通登录。'
  if (type.endsWith('assertion-replayed')) return '此运证通登录凭证已经使用过，不能重复使用，请重新通过运证通登录。'
  if (type.endsWith('assertion-subject')) return '运证通未提供有效的身份证号码或统一社会信用代码，请重新登录。'
  if (type.includes('assertion-')) return '运证通登录凭证无效（签名、签发方或接收方不被认可），请重新通过运证通登录。'
  if (e.status === 429) return '登录尝试过于频繁，请稍后再试。'
  return `服务器拒绝登录（${e.status}），请稍后重试。`
}

/**
 * Exchanges 运证通's assertion for a holder token and hands it to
 * `useToken(token, expiresAtMs)`; on refusal shows the sign-in screen
 * with the reason.
 */
export async function finishYzt (root, back, { useToken, showSignIn }) {
  if (back.error) return showSignIn(back.error, back.code)
  root.replaceChildren(el('p', { id: 'signing-in' }, '正在通过运证通登录并绑定本机…'))
  let answer
  try {
    answer = await call('POST', '/holder/sign-in', null, { assertion: back.assertion })
  } catch (e) {
    return showSignIn(e.status ? refusalText(e) : '无法连接服务器，请联网后重新登录。', e.type ? e.type.replace(/.*\//, '') : 'network')
  }
  try {
    await useToken(answer.token, answer.expires_at * 1000)
  } catch (e) {
    showSignIn(e.status ? `已登录，但同步证照失败：${e.message}` : '已登录，但无法连接服务器同步证照，请联网后重试。', 'sync')
  }
}

/**
 * The sign-in screen in `root`: `message` (a refusal) on top;
 * `useToken(token)` signs in with a pasted token (throws what the server
 * answered).
 */
export function renderSignIn (root, { message, code, useToken }) {
  const err = el('p', { id: 'error', class: 'error', 'data-code': code || '' }, message || '')
  const yztBox = el('div', { id: 'yzt-box', class: 'yzt-box' },
    el('p', {}, '使用运证通实名认证登录：核验身份后自动返回本钱包，无需令牌。'),
    el('p', { class: 'card-meta', id: 'yzt-state' }, '正在查询登录方式…'))
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'lnv1_…', 'aria-label': '持证人令牌' })
  const tokenErr = el('p', { id: 'token-error', class: 'error' })
  const form = el('form', {
    id: 'signin',
    onsubmit: async (ev) => {
      ev.preventDefault()
      const token = input.value.trim()
      if (!token) return
      tokenErr.textContent = '正在登录并绑定本机…'
      try {
        await useToken(token, null)
      } catch (e) {
        tokenErr.textContent = e.status
          ? (e.status === 401 ? '令牌无效，请核对后重试' : `服务器拒绝：${e.message}`)
          : '无法连接服务器，请联网后登录'
      }
    }
  },
  el('h3', {}, '服务窗口令牌登录'),
  el('p', { class: 'card-meta' }, '在发证机关服务窗口办理时，可输入工作人员提供的持证人令牌。首次登录时本机会生成设备密钥并绑定您的证照。'),
  input, el('button', { type: 'submit', id: 'signin-button', class: 'secondary' }, '使用令牌登录'), tokenErr)
  root.replaceChildren(el('section', { id: 'signin-screen' }, el('h2', {}, '登录'), err, yztBox, form))

  call('GET', '/holder/sign-in', null).then((opts) => {
    const status = yztBox.querySelector('#yzt-state')
    if (!opts.yzt_url) {
      status.textContent = '本服务尚未接入运证通，请使用令牌登录。'
      return
    }
    status.remove()
    yztBox.append(el('button', { id: 'yzt-signin', type: 'button', class: 'yzt', onclick: () => goToYzt(opts.yzt_url) }, '通过运证通登录'))
  }, () => {
    yztBox.querySelector('#yzt-state').textContent = '离线：联网后可通过运证通登录。'
  })
}
