// 辽宁省道路运输电子证照 · 发证机关工作台 (agency console).
//
// Signed in with the agency's bearer token (kept in this tab's session
// storage only), the console shows the agency's push state, its correction
// list (不规范数据) with a form per certificate type to correct and re-push a
// record, the upload of a CSV or JSON-lines file with its progress and its
// per-record report (CSV, made by the server), and status changes with their
// decision and the certificate's history. Every screen is Chinese, every
// time China Standard Time, every code shown by its name (the catalogue).

const TOKEN_KEY = 'lnec-agency-token'
const CST_MS = 8 * 3600 * 1000

const STATUS_ZH = { valid: '有效', revoked: '已注销', suspended: '暂停', superseded: '已被新版本取代' }
const OUTCOME_ZH = {
  issued: '已签发',
  updated: '已更新',
  unchanged: '未变化',
  non_conforming: '不规范',
  refused: '拒收',
  malformed: '无法读取'
}
const ACTIONS = [
  { status: 'suspended', zh: '暂停' },
  { status: 'valid', zh: '恢复（撤销暂停）' },
  { status: 'revoked', zh: '注销' }
]
const LIST_FIELDS = new Set(['business_scope', 'qualification_classes'])

const $ = (sel, root = document) => root.querySelector(sel)

function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue
    if (k === 'class') e.className = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (k === 'value') e.value = v
    else e.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c != null) e.append(c)
  return e
}

// ---- time: China Standard Time whatever the browser's zone ---------------

function cstParts (unix) {
  return new Date(unix * 1000 + CST_MS).toISOString()
}
/** `2026-06-01 10:00` in China Standard Time. */
function fmtTime (unix) {
  if (unix == null) return '—'
  const iso = cstParts(unix)
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`
}
/** Today's date in China Standard Time, `YYYY-MM-DD`. */
function todayCst () {
  return cstParts(Date.now() / 1000).slice(0, 10)
}

// ---- the server ------------------------------------------------------------

let token = sessionStorage.getItem(TOKEN_KEY) || ''
let catalogue = [] // [{ code, name_zh, face_fields: [...] }]
let agencies = [] // the push state rows this token sees

class ApiError extends Error {
  constructor (status, detail) {
    super(detail)
    this.status = status
  }
}

async function problemOf (res) {
  let detail = `HTTP ${res.status}`
  try {
    const body = await res.json()
    if (body && body.detail) detail = body.detail
  } catch { /* not JSON */ }
  return new ApiError(res.status, detail)
}

async function api (path, { method = 'GET', body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (!res.ok) throw await problemOf(res)
  return raw ? res : res.json()
}

function explain (e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return `令牌无效或已过期，请重新登录。（${e.message}）`
    if (e.status === 403) return `此令牌无权执行该操作。（${e.message}）`
    if (e.status === 404) return `未找到。（${e.message}）`
    if (e.status === 409) return `当前状态不允许此操作。（${e.message}）`
    if (e.status === 413) return e.message
    if (e.status === 429) return '请求过于频繁，请稍后再试。'
    return e.message
  }
  return `无法连接服务器：${e.message}`
}

function typeName (code) {
  const t = catalogue.find((c) => c.code === code)
  return t ? t.name_zh : code
}
function fieldLabel (type, key) {
  const t = catalogue.find((c) => c.code === type)
  const f = t && t.face_fields.find((x) => x.key === key)
  if (f) return f.label_zh
  for (const c of catalogue) {
    const g = c.face_fields.find((x) => x.key === key)
    if (g) return g.label_zh
  }
  return { record: '记录', line: '行', cert_type: '证照类型', version: '版本号' }[key] || key
}

// ---- screens ---------------------------------------------------------------

function main () { return $('#main') }

function show (...nodes) {
  main().replaceChildren(...nodes)
}

function signInScreen (message) {
  $('#nav').hidden = true
  $('#signout').hidden = true
  $('#who').textContent = '发证机关工作台'
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'lnv1_…', 'aria-label': '访问令牌' })
  const error = el('p', { id: 'signin-error', class: 'error', role: 'alert' }, message || '')
  const form = el('form', {
    id: 'signin',
    class: 'card narrow',
    onsubmit: async (ev) => {
      ev.preventDefault()
      token = input.value.trim()
      if (!token) { error.textContent = '请输入访问令牌。'; return }
      error.textContent = '正在登录…'
      try {
        await start()
      } catch (e) {
        token = ''
        sessionStorage.removeItem(TOKEN_KEY)
        error.textContent = explain(e)
      }
    }
  },
  el('h2', {}, '登录'),
  el('p', {}, '请输入本机构的访问令牌（由省级管理员发放）。令牌只保存在本标签页中，关闭即清除。'),
  el('label', { for: 'token' }, '访问令牌'),
  input,
  el('button', { id: 'signin-button', type: 'submit' }, '登录'),
  error)
  show(form)
}

async function start () {
  if (!catalogue.length) {
    const res = await fetch('/api/v1/catalogue')
    if (!res.ok) throw await problemOf(res)
    catalogue = await res.json()
  }
  const pushes = await api('/api/v1/agencies/pushes')
  agencies = pushes.agencies
  sessionStorage.setItem(TOKEN_KEY, token)
  const own = agencies.length === 1 ? agencies[0] : null
  $('#who').textContent = own ? `发证机关工作台 · ${own.name}（${own.division}）` : '发证机关工作台 · 全省'
  $('#nav').hidden = false
  $('#signout').hidden = false
  if (!location.hash) location.hash = '#push'
  else route()
}

function route () {
  if (!token) return signInScreen()
  const tab = (location.hash || '#push').slice(1)
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.tab === tab)
  const screens = { push: pushScreen, corrections: correctionsScreen, upload: uploadScreen, status: statusScreen, outages: outagesScreen }
  const screen = screens[tab] || pushScreen
  screen().catch((e) => {
    if (e instanceof ApiError && e.status === 401) {
      token = ''
      sessionStorage.removeItem(TOKEN_KEY)
      return signInScreen(explain(e))
    }
    show(el('p', { class: 'error', role: 'alert' }, explain(e)))
  })
}

// ---- push state ------------------------------------------------------------

async function pushScreen () {
  show(el('p', {}, '正在读取推送状态…'))
  agencies = (await api('/api/v1/agencies/pushes')).agencies
  const cards = agencies.map((a) => el('article', { class: 'card push', 'data-division': String(a.division), 'data-overdue': String(a.overdue) },
    el('h3', {}, a.name, ' ', el('span', { class: 'code' }, String(a.division))),
    el('span', { class: a.overdue ? 'badge bad' : 'badge ok' }, a.overdue ? '已逾期' : '按时'),
    el('dl', { class: 'facts' },
      el('dt', {}, '最近推送'), el('dd', { class: 'last-push' }, a.last_push_at == null ? '从未推送' : fmtTime(a.last_push_at)),
      el('dt', {}, '推送记录数'), el('dd', {}, a.last_push_records == null ? '—' : String(a.last_push_records)),
      el('dt', {}, '下次推送截止'), el('dd', { class: 'due-by' }, a.due_by == null ? '—' : fmtTime(a.due_by))
    ),
    a.overdue
      ? el('p', { class: 'hint' }, '超过两个工作日未推送：请尽快补推自上次确认以来的全部记录（§5.3）。')
      : null
  ))
  show(
    el('h2', {}, '推送状态'),
    el('p', { class: 'muted' }, '时间均为北京时间。截止时间为最近一次推送后的第二个工作日结束。'),
    el('div', { id: 'push-state', class: 'grid' }, cards)
  )
}

// ---- corrections -----------------------------------------------------------

async function correctionsScreen () {
  show(el('p', {}, '正在读取不规范数据…'))
  const list = await api('/api/v1/nonconforming')
  const entries = list.entries
  const items = entries.map((entry) => el('article', {
    class: 'card entry', 'data-type': entry.cert_type, 'data-number': entry.number
  },
  el('h3', {}, typeName(entry.cert_type), ' ', el('span', { class: 'code' }, entry.number || '（无编号）')),
  el('p', { class: 'muted' }, `首次推送 ${fmtTime(entry.first_seen)} · 最近推送 ${fmtTime(entry.last_seen)}`),
  el('ul', { class: 'reasons' }, entry.reasons.map((r) => el('li', { 'data-field': r.field },
    el('strong', {}, fieldLabel(entry.cert_type, r.field)), '：', r.message_zh))),
  el('button', { class: 'correct', type: 'button', onclick: () => correctForm(entry) }, '更正并重新推送')
  ))
  show(
    el('h2', {}, '不规范数据', ' ', el('span', { id: 'corrections-count', class: 'count' }, String(entries.length))),
    el('p', { class: 'muted' }, '以下记录未能签发电子证照。请按字段说明更正后重新推送；签发后即从列表中移除。'),
    entries.length
      ? el('div', { id: 'corrections-list', class: 'grid' }, items)
      : el('p', { id: 'corrections-empty', class: 'ok-text' }, '没有待更正的记录。'),
    el('div', { id: 'correct-box' })
  )
}

function recordValue (v) {
  if (Array.isArray(v)) return v.join(';')
  return v == null ? '' : String(v)
}

function correctForm (entry) {
  const type = catalogue.find((c) => c.code === entry.cert_type)
  const box = $('#correct-box')
  const reasonsBy = {}
  for (const r of entry.reasons) (reasonsBy[r.field] ||= []).push(r.message_zh)
  const fields = type ? type.face_fields : Object.keys(entry.record).filter((k) => k !== 'cert_type').map((k) => ({ key: k, label_zh: fieldLabel(entry.cert_type, k), mandatory: false }))
  const inputs = fields.map((f) => {
    const bad = reasonsBy[f.key]
    const id = `f-${f.key}`
    return el('div', { class: bad ? 'field invalid' : 'field' },
      el('label', { for: id }, f.label_zh, f.mandatory ? el('span', { class: 'req', title: '必填' }, ' *') : null),
      el('input', { id, name: f.key, value: recordValue(entry.record[f.key]), 'aria-invalid': bad ? 'true' : null, placeholder: LIST_FIELDS.has(f.key) ? '多项以 ; 分隔' : null }),
      bad ? el('p', { class: 'field-error' }, bad.join('；')) : null)
  })
  const other = entry.reasons.filter((r) => !fields.some((f) => f.key === r.field))
  const result = el('div', { id: 'correct-result', role: 'status' })
  const form = el('form', {
    id: 'correct-form',
    class: 'card',
    'data-type': entry.cert_type,
    'data-number': entry.number,
    onsubmit: async (ev) => {
      ev.preventDefault()
      // The record as pushed, with the form's fields over it (keys the
      // form does not show, such as version, are kept).
      const record = { ...entry.record, cert_type: entry.cert_type }
      for (const f of fields) {
        const v = form.elements[f.key].value.trim()
        if (v === '') delete record[f.key]
        else if (LIST_FIELDS.has(f.key)) record[f.key] = v.split(/[;；]/).map((s) => s.trim()).filter(Boolean)
        else record[f.key] = v
      }
      result.textContent = '正在推送…'
      try {
        const answer = await api('/api/v1/records', { method: 'POST', body: { records: [record] } })
        const r = answer.results[0]
        if (['issued', 'updated', 'unchanged'].includes(r.result)) {
          await correctionsScreen()
          $('#correct-box').append(el('p', { id: 'correct-done', class: 'ok-text', role: 'status' },
            `${typeName(entry.cert_type)} ${r.number}：${OUTCOME_ZH[r.result]}（版本 ${r.version}），已从不规范数据列表中移除。`))
        } else {
          result.replaceChildren(
            el('p', { class: 'error' }, `仍未签发：${OUTCOME_ZH[r.result] || r.result}`),
            el('ul', { class: 'reasons' }, (r.reasons || []).map((x) => el('li', { 'data-field': x.field }, el('strong', {}, fieldLabel(entry.cert_type, x.field)), '：', x.message_zh))))
        }
      } catch (e) {
        result.replaceChildren(el('p', { class: 'error' }, explain(e)))
      }
    }
  },
  el('h3', {}, `更正：${typeName(entry.cert_type)} ${entry.number}`),
  other.length ? el('ul', { class: 'reasons' }, other.map((r) => el('li', {}, el('strong', {}, fieldLabel(entry.cert_type, r.field)), '：', r.message_zh))) : null,
  el('div', { class: 'fields' }, inputs),
  el('div', { class: 'actions' },
    el('button', { id: 'correct-submit', type: 'submit' }, '重新推送'),
    el('button', { type: 'button', class: 'secondary', onclick: () => box.replaceChildren() }, '取消')),
  result)
  box.replaceChildren(form)
  form.scrollIntoView({ block: 'start' })
  const first = form.querySelector('.invalid input') || form.querySelector('input')
  if (first) first.focus()
}

// ---- upload ----------------------------------------------------------------

function formatOf (name) {
  const ext = (name.split('.').pop() || '').toLowerCase()
  if (ext === 'csv') return 'csv'
  if (['jsonl', 'ndjson', 'json'].includes(ext)) return 'jsonl'
  return null
}

async function uploadScreen () {
  const file = el('input', { id: 'upload-file', type: 'file', accept: '.csv,.jsonl,.ndjson,.json,text/csv' })
  const progress = el('progress', { id: 'upload-progress', max: '100', value: '0', 'aria-label': '上传进度' })
  const percent = el('span', { id: 'upload-percent' }, '')
  const result = el('div', { id: 'upload-result', role: 'status' })
  const button = el('button', { id: 'upload-button', type: 'submit' }, '上传并归集')
  const form = el('form', {
    id: 'upload-form',
    class: 'card',
    onsubmit: (ev) => {
      ev.preventDefault()
      const f = file.files[0]
      if (!f) { result.replaceChildren(el('p', { class: 'error' }, '请先选择文件。')); return }
      const format = formatOf(f.name)
      if (!format) { result.replaceChildren(el('p', { class: 'error' }, '文件应为 .csv 或 .jsonl（JSON 行）。')); return }
      button.disabled = true
      result.replaceChildren()
      setProgress(progress, percent, 0, '正在上传…')
      const xhr = new XMLHttpRequest()
      xhr.open('POST', `/api/v1/uploads?format=${format}&name=${encodeURIComponent(f.name)}`)
      xhr.setRequestHeader('Authorization', `Bearer ${token}`)
      xhr.setRequestHeader('Content-Type', format === 'csv' ? 'text/csv' : 'application/x-ndjson')
      xhr.responseType = 'json'
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          const p = Math.floor((e.loaded / e.total) * 100)
          setProgress(progress, percent, p, p < 100 ? `已上传 ${p}%` : '已上传，服务器正在处理…')
        }
      }
      xhr.onload = () => {
        button.disabled = false
        if (xhr.status === 200) {
          setProgress(progress, percent, 100, '完成')
          renderUpload(result, xhr.response)
        } else {
          setProgress(progress, percent, 0, '未完成')
          const detail = xhr.response && xhr.response.detail ? xhr.response.detail : `HTTP ${xhr.status}`
          result.replaceChildren(el('p', { class: 'error', id: 'upload-error' }, explain(new ApiError(xhr.status, detail))))
        }
      }
      xhr.onerror = () => {
        button.disabled = false
        setProgress(progress, percent, 0, '连接中断')
        result.replaceChildren(el('p', { class: 'error', id: 'upload-error' }, '上传中断：连接失败。已确认保存的记录不会丢失，可重新上传同一文件（已保存的记录答复“未变化”）。'))
      }
      xhr.send(f)
    }
  },
  el('h3', {}, '上传文件'),
  el('p', { class: 'muted' }, 'CSV（UTF-8 编码，首行为字段名表头，列表项以 ; 分隔）或 JSON 行文件，单个文件不超过 32 MiB；更大的文件请用 verifier-server import 导入。以 = + - @ 开头的单元格会被拒收。'),
  el('label', { for: 'upload-file' }, '文件'),
  file,
  el('div', { class: 'progress-row' }, progress, percent),
  el('div', { class: 'actions' }, button),
  result)
  show(el('h2', {}, '批量上传（归集）'), form)
}

function setProgress (progress, percent, value, text) {
  // An attribute (not only the property), so that it can be observed.
  progress.setAttribute('value', String(value))
  progress.setAttribute('aria-valuenow', String(value))
  percent.textContent = text
}

function renderUpload (box, report) {
  const s = report.summary
  const signed = s.issued + s.updated + s.unchanged
  const rows = report.rows.map((r) => el('tr', { 'data-line': String(r.line) },
    el('td', {}, String(r.line)),
    el('td', {}, r.cert_type ? typeName(r.cert_type) : '—'),
    el('td', {}, r.number || '—'),
    el('td', {}, OUTCOME_ZH[r.result] || r.result),
    el('td', {}, el('ul', { class: 'reasons' }, r.reasons.map((x) => el('li', {}, x.message_zh))))
  ))
  const download = el('button', {
    id: 'report-download',
    type: 'button',
    onclick: async () => {
      try {
        const res = await api(`/api/v1/uploads/${report.id}/report.csv`, { raw: true })
        const blob = await res.blob()
        const a = el('a', { href: URL.createObjectURL(blob), download: `上传报告-${report.id}.csv` })
        document.body.append(a)
        a.click()
        a.remove()
        setTimeout(() => URL.revokeObjectURL(a.href), 10000)
      } catch (e) {
        box.append(el('p', { class: 'error' }, explain(e)))
      }
    }
  }, '下载逐条报告（CSV）')
  box.replaceChildren(...[
    el('dl', { id: 'upload-summary', class: 'facts', 'data-id': String(report.id), 'data-complete': String(report.complete) },
      el('dt', {}, '文件'), el('dd', {}, report.file_name),
      el('dt', {}, '读取记录'), el('dd', { 'data-count': 'records' }, String(report.records)),
      el('dt', {}, '已签发/更新/未变化'), el('dd', { 'data-count': 'signed' }, `${s.issued} / ${s.updated} / ${s.unchanged}`),
      el('dt', {}, '不规范'), el('dd', { 'data-count': 'non_conforming' }, String(s.non_conforming)),
      el('dt', {}, '拒收'), el('dd', { 'data-count': 'refused' }, String(s.refused)),
      el('dt', {}, '无法读取'), el('dd', { 'data-count': 'malformed' }, String(s.malformed))),
    report.stopped ? el('p', { id: 'upload-stopped', class: 'error' }, report.stopped) : el('p', { class: 'ok-text' }, `全部读取完毕：${signed} 条已签发或无变化。`),
    el('div', { class: 'actions' }, download),
    report.rows.length
      ? el('div', { class: 'table-wrap' }, el('table', { id: 'upload-rows' },
        el('thead', {}, el('tr', {}, el('th', {}, '行'), el('th', {}, '证照类型'), el('th', {}, '编号'), el('th', {}, '结果'), el('th', {}, '原因'))),
        el('tbody', {}, rows)))
      : null,
    report.rows_truncated ? el('p', { class: 'muted' }, '仅显示前 1000 条，完整内容见 CSV 报告。') : null
  ].filter(Boolean))
}

// ---- status changes and history ---------------------------------------------

async function statusScreen () {
  const typeSelect = el('select', { id: 'status-type', name: 'type' },
    catalogue.map((c) => el('option', { value: c.code }, c.name_zh)))
  const number = el('input', { id: 'status-number', name: 'number', autocomplete: 'off' })
  const action = el('select', { id: 'status-action', name: 'status' }, ACTIONS.map((a) => el('option', { value: a.status }, a.zh)))
  const reason = el('input', { id: 'status-reason', name: 'reason', maxlength: '200' })
  const date = el('input', { id: 'status-date', name: 'effective_date', type: 'date', value: todayCst() })
  const doc = el('input', { id: 'status-doc', name: 'document_number', maxlength: '64', placeholder: '如 辽交运罚〔2026〕15号' })
  const result = el('div', { id: 'status-result', role: 'status' })
  const history = el('div', { id: 'history' })
  const load = async () => {
    const n = number.value.trim()
    if (!n) { result.replaceChildren(el('p', { class: 'error' }, '请输入证照编号。')); return }
    try {
      renderHistory(history, await api(`/api/v1/certificates/${typeSelect.value}/${encodeURIComponent(n)}/history`))
    } catch (e) {
      history.replaceChildren(el('p', { class: 'error' }, explain(e)))
    }
  }
  const form = el('form', {
    id: 'status-form',
    class: 'card',
    onsubmit: async (ev) => {
      ev.preventDefault()
      const n = number.value.trim()
      if (!n || !reason.value.trim() || !doc.value.trim() || !date.value) {
        result.replaceChildren(el('p', { class: 'error' }, '请填写证照编号、事由、生效日期和文书编号。'))
        return
      }
      result.textContent = '正在提交…'
      try {
        const changed = await api(`/api/v1/certificates/${typeSelect.value}/${encodeURIComponent(n)}/status`, {
          method: 'POST',
          body: { status: action.value, reason: reason.value.trim(), effective_date: date.value, document_number: doc.value.trim() }
        })
        result.replaceChildren(el('p', { id: 'status-done', class: 'ok-text' },
          `${typeName(changed.cert_type)} ${changed.number} 第 ${changed.version} 版：现为“${STATUS_ZH[changed.status]}”。`))
        await load()
      } catch (e) {
        result.replaceChildren(el('p', { class: 'error' }, explain(e)))
      }
    }
  },
  el('h3', {}, '暂停、恢复或注销'),
  el('div', { class: 'fields' },
    el('div', { class: 'field' }, el('label', { for: 'status-type' }, '证照类型'), typeSelect),
    el('div', { class: 'field' }, el('label', { for: 'status-number' }, '证照编号'), number),
    el('div', { class: 'field' }, el('label', { for: 'status-action' }, '操作'), action),
    el('div', { class: 'field' }, el('label', { for: 'status-reason' }, '事由'), reason),
    el('div', { class: 'field' }, el('label', { for: 'status-date' }, '生效日期'), date),
    el('div', { class: 'field' }, el('label', { for: 'status-doc' }, '文书编号'), doc)),
  el('div', { class: 'actions' },
    el('button', { id: 'status-submit', type: 'submit' }, '提交'),
    el('button', { id: 'history-button', type: 'button', class: 'secondary', onclick: load }, '查询历史')),
  result)
  show(el('h2', {}, '证照状态'), form, history)
}

/** `agency 210100 #3` as 发证机关 210100（令牌 #3）. */
function actorZh (actor) {
  const m = /^(\w+)(?: (\d{6}))? #(\d+)$/.exec(actor)
  if (!m) return actor
  const role = { agency: '发证机关', admin: '省级管理员', cli: '命令行' }[m[1]] || m[1]
  return `${role}${m[2] ? ' ' + m[2] : ''}（令牌 #${m[3]}）`
}

function renderHistory (box, h) {
  box.replaceChildren(el('section', { class: 'card', id: 'history-card', 'data-status': h.status },
    el('h3', {}, `${typeName(h.cert_type)} ${h.number}`),
    el('p', {}, '当前：第 ', String(h.current_version), ' 版，', el('strong', { id: 'history-status' }, STATUS_ZH[h.status] || h.status)),
    el('h4', {}, '版本'),
    el('div', { class: 'table-wrap' }, el('table', { id: 'history-versions' },
      el('thead', {}, el('tr', {}, el('th', {}, '版本'), el('th', {}, '签发时间（北京时间）'), el('th', {}, '状态'))),
      el('tbody', {}, h.versions.map((v) => el('tr', {}, el('td', {}, String(v.version)), el('td', {}, fmtTime(v.issued_at)), el('td', {}, STATUS_ZH[v.status] || v.status)))))),
    el('h4', {}, '状态变更'),
    h.changes.length
      ? el('div', { class: 'table-wrap' }, el('table', { id: 'history-changes' },
        el('thead', {}, el('tr', {}, el('th', {}, '时间（北京时间）'), el('th', {}, '版本'), el('th', {}, '变更'), el('th', {}, '事由'), el('th', {}, '生效日期'), el('th', {}, '文书编号'), el('th', {}, '操作人'))),
        el('tbody', {}, h.changes.map((c) => el('tr', { 'data-to': c.to },
          el('td', {}, fmtTime(c.at)),
          el('td', {}, String(c.version)),
          el('td', {}, `${STATUS_ZH[c.from] || c.from} → ${STATUS_ZH[c.to] || c.to}`),
          el('td', { class: 'reason' }, c.reason || '—'),
          el('td', { class: 'date' }, c.effective_date || '—'),
          el('td', { class: 'doc' }, c.document_number || '—'),
          el('td', {}, actorZh(c.actor)))))))
      : el('p', { class: 'muted' }, '没有状态变更记录。')
  ))
}

// ---- outage reports (§5.3) ---------------------------------------------------

const BASIS_ZH = {
  published: '按国务院公布的放假安排计算',
  statutory_only: '该年调休安排尚未公布，仅按法定节假日计算',
  weekdays_only: '日历未收录该年，仅按周一至周五计算'
}

/** `2026-06-01T10:00:00+08:00` (already China Standard Time) as `2026-06-01 10:00`. */
function fmtRfc3339 (s) {
  return s ? `${s.slice(0, 10)} ${s.slice(11, 16)}` : '—'
}

async function outagesScreen () {
  show(el('p', {}, '正在读取故障报告…'))
  const list = await api('/api/v1/agency/outages')
  const from = el('input', { id: 'outage-from', name: 'from', type: 'datetime-local', required: '' })
  const until = el('input', { id: 'outage-until', name: 'until', type: 'datetime-local', required: '' })
  const reason = el('input', { id: 'outage-reason', name: 'reason', maxlength: '500', placeholder: '如 前置机数据库故障' })
  const result = el('div', { id: 'outage-result', role: 'status' })
  const form = el('form', {
    id: 'outage-form',
    class: 'card',
    onsubmit: async (ev) => {
      ev.preventDefault()
      if (!from.value || !until.value || !reason.value.trim()) {
        result.replaceChildren(el('p', { class: 'error' }, '请填写故障开始时间、结束时间和故障原因。'))
        return
      }
      result.textContent = '正在提交…'
      try {
        // The inputs are read as China Standard Time, whatever the browser's zone.
        const cst = (v) => `${v.length === 16 ? v + ':00' : v}+08:00`
        const made = await api('/api/v1/agency/outages', {
          method: 'POST',
          body: { from: cst(from.value), until: cst(until.value), reason: reason.value.trim() }
        })
        await outagesScreen()
        $('#outage-result').replaceChildren(el('p', { id: 'outage-done', class: 'ok-text' },
          `已登记。补推截止：${fmtRfc3339(made.repush_deadline)}（${BASIS_ZH[made.calendar_basis] || made.calendar_basis}）。`))
      } catch (e) {
        result.replaceChildren(el('p', { class: 'error' }, explain(e)))
      }
    }
  },
  el('h3', {}, '报告系统故障'),
  el('p', { class: 'muted' }, '因系统故障未能按时推送的，故障排除后两个工作日内补推（§5.3）。时间按北京时间填写。'),
  el('div', { class: 'fields' },
    el('div', { class: 'field' }, el('label', { for: 'outage-from' }, '故障开始'), from),
    el('div', { class: 'field' }, el('label', { for: 'outage-until' }, '故障结束'), until),
    el('div', { class: 'field' }, el('label', { for: 'outage-reason' }, '故障原因'), reason)),
  el('div', { class: 'actions' }, el('button', { id: 'outage-submit', type: 'submit' }, '提交')),
  result)
  const rows = list.outages
  show(
    el('h2', {}, '故障报告'),
    form,
    rows.length
      ? el('div', { class: 'table-wrap' }, el('table', { id: 'outages' },
        el('thead', {}, el('tr', {}, el('th', {}, '故障开始'), el('th', {}, '故障结束'), el('th', {}, '原因'), el('th', {}, '补推截止'), el('th', {}, '计算依据'))),
        el('tbody', {}, rows.map((o) => el('tr', { 'data-id': String(o.id) },
          el('td', {}, fmtRfc3339(o.from)),
          el('td', {}, fmtRfc3339(o.until)),
          el('td', { class: 'reason' }, o.reason),
          el('td', { class: 'deadline' }, fmtRfc3339(o.repush_deadline)),
          el('td', { class: 'basis' }, BASIS_ZH[o.calendar_basis] || o.calendar_basis))))))
      : el('p', { id: 'outages-empty', class: 'muted' }, '尚未报告故障。')
  )
}

// ---- start -------------------------------------------------------------------

$('#signout').addEventListener('click', () => {
  token = ''
  sessionStorage.removeItem(TOKEN_KEY)
  location.hash = ''
  signInScreen('已退出。')
})
window.addEventListener('hashchange', route)
if (token) {
  start().catch((e) => { token = ''; sessionStorage.removeItem(TOKEN_KEY); signInScreen(explain(e)) })
} else {
  signInScreen()
}
