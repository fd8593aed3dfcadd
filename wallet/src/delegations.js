// "车辆授权": an owner (a company signed in with its credit code) lends its
// vehicle certificates (道路运输证 YSZ, 网约车运输证 WYY) to drivers' phones.
// Lists the delegations it made (GET /api/v1/holder/delegations: driver,
// masked ID number, certificate, period in China Standard Time, state),
// delegates one of its valid vehicle certificates to a driver for a period
// (POST /api/v1/holder/delegations; a refusal's problem type shown in
// Chinese) and revokes one after a confirmation (POST
// /api/v1/holder/delegations/{id}/revoke): the driver's copy is revoked.
import { el, call, cstTime } from './dom.js'

/** The certificate types an owner may delegate to a driver. */
export const VEHICLE_TYPES = ['YSZ', 'WYY']
const CST_MS = 8 * 3600 * 1000
const DAY_MS = 24 * 3600 * 1000

/** `YYYY-MM-DD` of Unix milliseconds in China Standard Time (plus `days`). */
function cstDay (ms, days = 0) {
  return new Date(ms + CST_MS + days * DAY_MS).toISOString().slice(0, 10)
}

/** The owner's own vehicle certificates that can be delegated now. */
function delegable (certs) {
  return (certs || []).filter((c) => VEHICLE_TYPES.includes(c.cert_type) && !c.delegation && c.status === 'valid')
}

/** Whether the 车辆授权 screen concerns this holder: it owns a vehicle certificate. */
export function ownsVehicle (certs) {
  return (certs || []).some((c) => VEHICLE_TYPES.includes(c.cert_type) && !c.delegation)
}

/** How many delegations the holder made (0 when unknown or offline). */
export async function givenCount (token) {
  try {
    return (await call('GET', '/holder/delegations', token)).given.length
  } catch (_) {
    return 0
  }
}

const STATES = {
  active: ['active', '有效'],
  pending: ['pending', '待生效'],
  ended: ['expired', '已过期'],
  revoked: ['revoked', '已撤销']
}

function delegationState (d) {
  const [state, text] = STATES[d.state] || ['pending', d.state]
  if (d.state === 'revoked' && d.revoked_at) return [state, `${text}（${cstTime(d.revoked_at)}）`]
  return [state, text]
}

/**
 * A refusal in Chinese, by the problem type of RFC 9457 (the server's
 * `detail` is for operators; the screen says what to do). `cert`: the
 * certificate the request named, for its validity.
 */
export function refusal (e, cert) {
  if (!e.status) return '无法连接服务器，请联网后重试。'
  const type = (e.type || '').replace(/^.*\/problems\//, '')
  switch (type) {
    case 'delegation-beyond-validity':
      return `授权期限超出了证照的有效期（${cert ? `${cert.valid_from} 至 ${cert.valid_until || '长期'}` : '请核对证照有效期'}），请缩短授权期限。`
    case 'bad-delegation-period':
      return /valid_from/.test(e.message) && /past/.test(e.message)
        ? '授权开始日期不能早于今天（北京时间）。'
        : /before/.test(e.message)
          ? '授权结束日期不能早于开始日期。'
          : '授权日期格式有误，请重新选择日期。'
    case 'bad-driver':
      if (/themselves/.test(e.message)) return '不能将证照授权给本单位自己。'
      if (/driver_id_number/.test(e.message)) return '驾驶员身份证号码无效，请核对（18 位，最后一位为校验码）。'
      return '驾驶员姓名无效：请填写 1 至 20 个字。'
    case 'not-owners-certificate':
      return '该证照不属于本单位，不能授权。请刷新后重试。'
    case 'certificate-not-in-force':
      return '该证照已注销、吊销、暂停或已被新版本取代，不能授权。'
    case 'not-a-vehicle-certificate':
      return '只有道路运输证和网约车运输证可以授权给驾驶员使用。'
    case 'delegation-revoked':
      return '该授权已撤销。'
  }
  if (e.status === 401) return '登录已过期，请重新登录后再管理车辆授权。'
  if (e.status === 403) return '只有以统一社会信用代码（或身份证号）登录的持证人才能管理车辆授权。'
  if (e.status === 404) return '找不到该授权，请刷新后重试。'
  return `服务器拒绝（${e.status}）：${e.message}`
}

/**
 * The screen in `root`. ctx: { token, certs (the wallet's), nowMs(),
 * back(), header (nodes put first, e.g. the network state) }.
 */
export async function renderDelegations (root, ctx) {
  const note = el('p', { id: 'deleg-message', class: 'error', role: 'status' })
  const list = el('div', { id: 'deleg-list' }, el('p', { class: 'card-meta' }, '正在加载车辆授权…'))
  const formBox = el('section', { id: 'deleg-new' })
  root.replaceChildren(
    ...(ctx.header || []),
    el('button', { class: 'back secondary', id: 'deleg-back', onclick: ctx.back }, '‹ 返回'),
    el('h2', {}, '车辆授权'),
    el('p', { class: 'hint' }, '您可以将本单位的道路运输证、网约车运输证授权给驾驶员，在授权期限内由驾驶员的手机亮证。撤销后，驾驶员手机上的授权证照立即失效。'),
    note, list, formBox)

  async function loadList () {
    let given
    try {
      given = (await call('GET', '/holder/delegations', ctx.token)).given
    } catch (e) {
      list.replaceChildren(el('p', { class: 'error' }, refusal(e)))
      return
    }
    const order = { active: 0, pending: 1, ended: 2, revoked: 3 }
    given.sort((a, b) => ((order[a.state] ?? 1) - (order[b.state] ?? 1)) || b.id - a.id)
    if (!given.length) {
      list.replaceChildren(el('p', { id: 'no-delegations' }, '您尚未将车辆证照授权给任何驾驶员。'))
      return
    }
    list.replaceChildren(...given.map(card))
  }

  function card (d) {
    const [state, stateText] = delegationState(d)
    const actions = el('div', { class: 'grant-actions' })
    const cert = `${d.type_name_zh} ${d.number}${d.plate ? `（${d.plate}）` : ''}`
    const node = el('article', { class: `grant deleg ${state}`, 'data-id': String(d.id), 'data-state': state, 'data-number': d.number },
      el('div', { class: 'grant-head' },
        el('span', { class: 'grant-app deleg-driver' }, d.driver_name),
        el('span', { class: `badge ${state}` }, stateText)),
      el('dl', { class: 'grant-facts' },
        el('dt', {}, '身份证'), el('dd', { class: 'deleg-id' }, d.driver_id_masked),
        el('dt', {}, '证照'), el('dd', { class: 'deleg-cert' }, cert),
        el('dt', {}, '期限'), el('dd', { class: 'deleg-period' }, `${d.valid_from} 至 ${d.valid_until}（北京时间）`),
        el('dt', {}, '创建'), el('dd', { class: 'deleg-created' }, `${cstTime(d.created_at)}（北京时间）`)),
      d.state === 'pending' ? el('p', { class: 'card-meta' }, '驾驶员登录钱包并联网同步后，授权证照即发送到其手机。') : null,
      actions)
    if (d.state === 'active' || d.state === 'pending') {
      const ask = () => {
        actions.replaceChildren(el('div', { class: 'confirm', role: 'alertdialog' },
          el('p', { class: 'confirm-text' }, `确认撤销对驾驶员「${d.driver_name}」的车辆授权（${cert}）？撤销后其手机上的授权证照立即失效。`),
          el('div', { class: 'actions' },
            el('button', { class: 'danger confirm-revoke', onclick: revoke }, '确认撤销'),
            el('button', { class: 'secondary cancel-revoke', onclick: idle }, '取消'))))
      }
      const idle = () => actions.replaceChildren(el('button', { class: 'danger revoke', onclick: ask }, '撤销授权'))
      const revoke = async () => {
        note.textContent = ''
        try {
          await call('POST', `/holder/delegations/${d.id}/revoke`, ctx.token, {})
          note.className = 'ok'
          note.textContent = `已撤销对驾驶员「${d.driver_name}」的车辆授权。`
        } catch (e) {
          note.className = 'error'
          note.textContent = refusal(e)
        }
        await loadList()
      }
      idle()
    }
    return node
  }

  function renderForm () {
    const mine = delegable(ctx.certs)
    if (!mine.length) {
      formBox.replaceChildren(el('h3', {}, '新增车辆授权'),
        el('p', { class: 'card-meta', id: 'deleg-none' }, '本单位没有可授权的有效道路运输证或网约车运输证。'))
      return
    }
    const today = cstDay(ctx.nowMs())
    const select = el('select', { id: 'deleg-cert', 'aria-label': '证照' },
      mine.map((c) => el('option', { value: `${c.cert_type}/${c.number}` }, `${c.type_name_zh} ${c.number}`)))
    const validity = el('p', { id: 'deleg-validity', class: 'card-meta' })
    const name = el('input', { id: 'deleg-name', maxlength: '20', autocomplete: 'off', 'aria-label': '驾驶员姓名', placeholder: '例如：李四' })
    const idNumber = el('input', { id: 'deleg-idnum', maxlength: '18', autocomplete: 'off', inputmode: 'text', 'aria-label': '驾驶员身份证号码', placeholder: '18 位身份证号码' })
    const from = el('input', { id: 'deleg-from', type: 'date', value: today, 'aria-label': '开始日期' })
    const until = el('input', { id: 'deleg-until', type: 'date', 'aria-label': '结束日期' })
    const err = el('p', { id: 'deleg-error', class: 'error', role: 'alert' })
    // The chosen days spelled out (a date input's format follows the
    // phone's settings): China Standard Time days, the server's too.
    const span = el('p', { id: 'deleg-span', class: 'card-meta' })
    const showSpan = () => {
      span.textContent = `授权期限：${from.value || today} 至 ${until.value || '（请选择）'}（北京时间，含当日）`
    }
    from.addEventListener('input', showSpan)
    until.addEventListener('input', showSpan)
    const chosen = () => mine.find((c) => `${c.cert_type}/${c.number}` === select.value)
    const choose = () => {
      const c = chosen()
      validity.textContent = `证照有效期 ${c.valid_from} 至 ${c.valid_until || '长期'}（授权期限须在此范围内）`
      const month = cstDay(ctx.nowMs(), 30)
      until.value = c.valid_until && c.valid_until < month ? c.valid_until : month
      showSpan()
    }
    select.addEventListener('change', choose)
    choose()
    const form = el('form', {
      id: 'deleg-form',
      novalidate: '',
      onsubmit: async (ev) => {
        ev.preventDefault()
        err.textContent = ''
        const c = chosen()
        const driverName = name.value.trim()
        const driverId = idNumber.value.trim().toUpperCase()
        if (!driverName) { err.textContent = '请填写驾驶员姓名。'; return }
        if (!/^\d{17}[\dX]$/.test(driverId)) { err.textContent = '请填写 18 位驾驶员身份证号码。'; return }
        if (!until.value) { err.textContent = '请选择授权结束日期。'; return }
        let made
        try {
          made = await call('POST', '/holder/delegations', ctx.token, {
            cert_type: c.cert_type,
            number: c.number,
            driver_name: driverName,
            driver_id_number: driverId,
            ...(from.value ? { valid_from: from.value } : {}),
            valid_until: until.value
          })
        } catch (e) {
          err.textContent = `无法授权：${refusal(e, c)}`
          return
        }
        note.className = 'ok'
        note.textContent = made.state === 'active'
          ? `已将${c.type_name_zh} ${c.number} 授权给驾驶员「${driverName}」，至 ${made.valid_until}（北京时间）。`
          : `已授权驾驶员「${driverName}」；其登录钱包并同步后即可使用。`
        name.value = ''
        idNumber.value = ''
        await loadList()
      }
    },
    el('h3', {}, '新增车辆授权'),
    el('label', { for: 'deleg-cert' }, '证照'), select, validity,
    el('label', { for: 'deleg-name' }, '驾驶员姓名'), name,
    el('label', { for: 'deleg-idnum' }, '驾驶员身份证号码'), idNumber,
    el('div', { class: 'deleg-dates' },
      el('div', {}, el('label', { for: 'deleg-from' }, '开始日期'), from),
      el('div', {}, el('label', { for: 'deleg-until' }, '结束日期（含当日）'), until)),
    span,
    el('button', { type: 'submit', id: 'deleg-submit' }, '确认授权'), err)
    formBox.replaceChildren(form)
  }

  renderForm()
  await loadList()
}
