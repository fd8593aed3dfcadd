// The wallet's service worker: keeps the app's own files (no CDN; the
// bundle is built by scripts/build-web) so the wallet opens with the
// network off. API calls are not cached here: the app keeps the holder's
// certificates in IndexedDB and says when they were last synced.
/* global self, caches, fetch, __BUILD_ID__ */
const CACHE = 'wallet-' + __BUILD_ID__
const FILES = ['./', 'index.html', 'app.js', 'style.css', 'manifest.webmanifest', 'icon.svg', 'icon-192.png']

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('wallet-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  const url = new URL(req.url)
  if (req.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/wallet/')) return
  // Network first (so an update shows at once), the cached copy when the
  // network is off or the server is down.
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone()
          caches.open(CACHE).then((c) => c.put(req, copy))
        }
        return res
      })
      .catch(() => caches.match(req, { ignoreSearch: true })
        .then((hit) => hit || (req.mode === 'navigate' ? caches.match('index.html') : undefined))
        .then((hit) => hit || new Response('offline', { status: 503 })))
  )
})
