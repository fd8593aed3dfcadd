// Small helpers the wallet's screens share: building elements, calling
// the holder API with a token, and China Standard Time for display.

/** An element with attributes (`on…` become listeners) and children. */
export function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v)
  }
  for (const c of children.flat()) if (c != null) e.append(c)
  return e
}

/** A refusal from the server: its status, problem type and detail. */
export class ApiRefusal extends Error {
  constructor (status, type, detail) {
    super(detail)
    this.status = status
    this.type = type || ''
  }
}

/** Calls the API (`path` from /api/v1); JSON in and out; throws ApiRefusal. */
export async function call (method, path, token, body) {
  const headers = {}
  if (token) headers.Authorization = 'Bearer ' + token
  if (body) headers['Content-Type'] = 'application/json'
  const res = await fetch('/api/v1' + path, {
    method, headers, body: body ? JSON.stringify(body) : undefined, cache: 'no-store'
  })
  if (!res.ok) {
    let problem = {}
    try { problem = await res.json() } catch (_) {}
    throw new ApiRefusal(res.status, problem.type, problem.detail || res.statusText)
  }
  return res.json()
}

const CST_MS = 8 * 3600 * 1000
const two = (n) => String(n).padStart(2, '0')

/** Unix seconds as `2026-11-30 08:00`, China Standard Time whatever the phone's zone. */
export function cstTime (seconds) {
  const d = new Date(seconds * 1000 + CST_MS)
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`
}

/** The catalogue (type names and face-field labels), fetched once; empty offline. */
let catalogue = null
export async function typeCatalogue () {
  if (catalogue) return catalogue
  try {
    const res = await fetch('/api/v1/catalogue')
    if (res.ok) {
      const list = await res.json()
      catalogue = new Map(list.map((t) => [t.code, t]))
      return catalogue
    }
  } catch (_) {}
  return new Map()
}
