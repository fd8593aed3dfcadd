// "授权管理": the holder's grants to other applications (§6.3: sharing only
// with the holder's authorisation). Lists them (GET /api/v1/holder/grants:
// application, purpose, certificates, period in China Standard Time,
// state), grants a registered application (GET /api/v1/holder/applications)
// access to chosen certificates for a purpose and a period (POST
// /api/v1/holder/grants), and revokes one after a confirmation (POST
// /api/v1/holder/grants/{id}/revoke): the application gets nothing from
// its next call.
import { el, call, cstTime, typeCatalogue } from './dom.js'

const DAY = 24 * 3600
const PERIODS = [[7, '7 天'], [30, '30 天'], [90, '90 天'], [180, '180 天'], [365, '1 年']]

function typeName (types, code) {
  return types.get(code)?.name_zh || code
}

function fieldNames (types, app) {
  const labels = new Map()
  for (const code of app.cert_types) {
    for (const f of types.get(code)?.face_fields || []) labels.set(f.key, f.label_zh)
  }
  return app.fields.map((k) => labels.get(k) || k)
}

function grantState (g, nowS) {
  if (g.revoked_at) return ['revoked', `已撤销（${cstTime(g.revoked_at)}）`]
  if (nowS >= g.valid_until) return ['expired', '已过期']
  return g.active ? ['active', '有效'] : ['pending', '未生效']
}

function refusal (e) {
  if (!e.status) return '无法连接服务器，请联网后重试。'
  if (e.status === 401) return '登录已过期，请重新登录后再管理授权。'
  if (e.status === 409) return '该授权已撤销。'
  if (e.status === 404) return '找不到该应用或证照，请刷新后重试。'
  return `服务器拒绝（${e.status}）：${e.message}`
}

/**
 * The screen in `root`. ctx: { token, certs (the wallet's), nowMs(),
 * back(), header (nodes put first, e.g. the network state) }.
 */
export async function renderGrants (root, ctx) {
  const note = el('p', { id: 'grants-message', class: 'error', role: 'status' })
  const list = el('div', { id: 'grant-list' }, el('p', { class: 'card-meta' }, '正在加载授权…'))
  const formBox = el('section', { id: 'grant-new' })
  root.replaceChildren(
    ...(ctx.header || []),
    el('button', { class: 'back secondary', id: 'grants-back', onclick: ctx.back }, '‹ 返回'),
    el('h2', {}, '授权管理'),
    el('p', { class: 'hint' }, '您可以授权其他应用（如网约车平台、保险公司）读取您选定的证照。授权到期或撤销后，该应用立即无法再获取这些证照。'),
    note, list, formBox)

  const types = await typeCatalogue()
  const certName = (item) => {
    const mine = (ctx.certs || []).find((c) => c.cert_type === item.cert_type && c.number === item.number)
    return `${mine?.type_name_zh || typeName(types, item.cert_type)} ${item.number || '（全部）'}`
  }

  async function loadList () {
    let grants
    try {
      grants = (await call('GET', '/holder/grants', ctx.token)).grants
    } catch (e) {
      list.replaceChildren(el('p', { class: 'error' }, refusal(e)))
      return
    }
    const nowS = Math.floor(ctx.nowMs() / 1000)
    const order = { active: 0, pending: 1, expired: 2, revoked: 3 }
    grants.sort((a, b) => (order[grantState(a, nowS)[0]] - order[grantState(b, nowS)[0]]) || b.id - a.id)
    if (!grants.length) {
      list.replaceChildren(el('p', { id: 'no-grants' }, '您尚未授权任何应用。'))
      return
    }
    list.replaceChildren(...grants.map((g) => grantCard(g, nowS)))
  }

  function grantCard (g, nowS) {
    const [state, stateText] = grantState(g, nowS)
    const actions = el('div', { class: 'grant-actions' })
    const card = el('article', { class: `grant ${state}`, 'data-id': String(g.id), 'data-state': state, 'data-client': g.client_id },
      el('div', { class: 'grant-head' },
        el('span', { class: 'grant-app' }, g.application_name),
        el('span', { class: `badge ${state}` }, stateText)),
      el('dl', { class: 'grant-facts' },
        el('dt', {}, '用途'), el('dd', { class: 'grant-purpose' }, g.purpose),
        el('dt', {}, '证照'), el('dd', { class: 'grant-certs' }, g.certificates.map((c) => el('div', {}, certName(c)))),
        el('dt', {}, '期限'), el('dd', { class: 'grant-period' }, `${cstTime(g.valid_from)} 至 ${cstTime(g.valid_until)}（北京时间）`)),
      actions)
    if (state === 'active' || state === 'pending') {
      const ask = () => {
        actions.replaceChildren(el('div', { class: 'confirm', role: 'alertdialog' },
          el('p', { class: 'confirm-text' }, `确认撤销对「${g.application_name}」的授权？撤销后该应用将立即无法获取这些证照。`),
          el('div', { class: 'actions' },
            el('button', { class: 'danger confirm-revoke', onclick: revoke }, '确认撤销'),
            el('button', { class: 'secondary cancel-revoke', onclick: idle }, '取消'))))
      }
      const idle = () => actions.replaceChildren(el('button', { class: 'danger revoke', onclick: ask }, '撤销授权'))
      const revoke = async () => {
        note.textContent = ''
        try {
          await call('POST', `/holder/grants/${g.id}/revoke`, ctx.token, {})
          note.textContent = ''
          note.className = 'ok'
          note.textContent = `已撤销对「${g.application_name}」的授权。`
        } catch (e) {
          note.className = 'error'
          note.textContent = refusal(e)
        }
        await loadList()
      }
      idle()
    }
    return card
  }

  async function loadForm () {
    let apps
    try {
      apps = (await call('GET', '/holder/applications', ctx.token)).applications
    } catch (e) {
      formBox.replaceChildren(el('p', { class: 'error' }, refusal(e)))
      return
    }
    const select = el('select', { id: 'grant-app', 'aria-label': '应用' },
      el('option', { value: '' }, '请选择应用'),
      apps.map((a) => el('option', { value: a.client_id }, a.name)))
    const about = el('p', { id: 'grant-app-about', class: 'card-meta' })
    const certBox = el('fieldset', { id: 'grant-certs' }, el('legend', {}, '授权的证照'), el('p', { class: 'card-meta' }, '请先选择应用。'))
    const purpose = el('input', { id: 'grant-purpose', maxlength: '200', 'aria-label': '用途', placeholder: '例如：网约车平台注册核验' })
    const period = el('select', { id: 'grant-period', 'aria-label': '期限' },
      PERIODS.map(([d, t]) => el('option', { value: String(d), ...(d === 30 ? { selected: '' } : {}) }, t)))
    const until = el('p', { id: 'grant-until', class: 'card-meta' })
    const err = el('p', { id: 'grant-error', class: 'error' })
    const untilS = () => Math.floor(ctx.nowMs() / 1000) + Number(period.value) * DAY
    const showUntil = () => { until.textContent = `授权自现在起至 ${cstTime(untilS())}（北京时间）` }
    const choose = () => {
      const app = apps.find((a) => a.client_id === select.value)
      if (!app) {
        about.textContent = ''
        certBox.replaceChildren(el('legend', {}, '授权的证照'), el('p', { class: 'card-meta' }, '请先选择应用。'))
        return
      }
      const fields = fieldNames(types, app)
      about.textContent = `登记用途：${app.purpose}。可接收：${app.cert_types.map((c) => typeName(types, c)).join('、')}；只可读取${fields.length ? fields.join('、') : '证照状态'}。`
      if (!purpose.value.trim()) purpose.value = app.purpose
      const mine = (ctx.certs || []).filter((c) => app.cert_types.includes(c.cert_type) && c.status === 'valid')
      certBox.replaceChildren(el('legend', {}, '授权的证照'),
        ...(mine.length
          ? mine.map((c) => el('label', { class: 'check' },
            el('input', { type: 'checkbox', name: 'cert', value: `${c.cert_type}/${c.number}`, 'data-type': c.cert_type, 'data-number': c.number }),
            el('span', {}, `${c.type_name_zh} ${c.number}`)))
          : [el('p', { class: 'card-meta', id: 'grant-none' }, '您没有该应用可接收的有效证照。')]))
    }
    select.addEventListener('change', choose)
    period.addEventListener('change', showUntil)
    showUntil()
    const form = el('form', {
      id: 'grant-form',
      onsubmit: async (ev) => {
        ev.preventDefault()
        err.textContent = ''
        const app = apps.find((a) => a.client_id === select.value)
        const chosen = [...certBox.querySelectorAll('input[name=cert]:checked')]
          .map((i) => ({ cert_type: i.dataset.type, number: i.dataset.number }))
        if (!app) { err.textContent = '请选择要授权的应用。'; return }
        if (!chosen.length) { err.textContent = '请至少选择一张证照。'; return }
        if (!purpose.value.trim()) { err.textContent = '请填写授权用途。'; return }
        try {
          await call('POST', '/holder/grants', ctx.token, {
            client_id: app.client_id, certificates: chosen, purpose: purpose.value.trim(), valid_until: untilS()
          })
        } catch (e) {
          err.textContent = e.status === 422 ? `无法授权：${e.message}` : refusal(e)
          return
        }
        note.className = 'ok'
        note.textContent = `已授权「${app.name}」读取 ${chosen.length} 张证照。`
        select.value = ''
        purpose.value = ''
        choose()
        await loadList()
      }
    },
    el('h3', {}, '新增授权'),
    el('label', { for: 'grant-app' }, '应用'), select, about, certBox,
    el('label', { for: 'grant-purpose' }, '用途'), purpose,
    el('label', { for: 'grant-period' }, '期限'), period, until,
    el('button', { type: 'submit', id: 'grant-submit' }, '确认授权'), err)
    formBox.replaceChildren(form)
  }

  await Promise.all([loadList(), loadForm()])
}
