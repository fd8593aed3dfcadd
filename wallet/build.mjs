// Builds the wallet into dist/: the app and the service worker bundled by
// esbuild from the npm packages (nothing is loaded from a CDN at run time),
// plus the page, style, manifest and icons. Run by scripts/build-web (npm run
// build in the workspace), which then writes the .br/.gz variants the server
// embeds and serves.
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(fileURLToPath(import.meta.url))
const dist = join(root, 'dist')
await rm(dist, { recursive: true, force: true })
await mkdir(dist, { recursive: true })

const common = { bundle: true, minify: true, target: 'es2022', platform: 'browser', legalComments: 'linked', logLevel: 'warning' }
await build({
  ...common,
  entryPoints: [join(root, 'src/app.js')],
  outfile: join(dist, 'app.js'),
  format: 'esm',
  // base45-js answers Node Buffers; the buffer package provides them.
  inject: [join(root, 'src/buffer-shim.js')]
})
const statics = ['index.html', 'style.css', 'manifest.webmanifest', 'icon.svg', 'icon-192.png']
for (const f of statics) await copyFile(join(root, f), join(dist, f))

// The service worker's cache name changes whenever any served file does.
const hash = createHash('sha256')
for (const f of ['app.js', ...statics]) hash.update(await readFile(join(dist, f)))
await build({
  ...common,
  entryPoints: [join(root, 'src/sw.js')],
  outfile: join(dist, 'sw.js'),
  format: 'iife',
  define: { __BUILD_ID__: JSON.stringify(hash.digest('hex').slice(0, 16)) }
})
console.log('wallet built in', dist)
