// Builds the agency console into dist/: the app bundled by esbuild (no
// runtime dependency, nothing loaded from a CDN), the page and its style.
// Run by scripts/build-web (npm workspace), which then writes the .br/.gz
// variants the server embeds and serves under /agency/.
import { build } from 'esbuild'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(fileURLToPath(import.meta.url))
const dist = join(root, 'dist')
await rm(dist, { recursive: true, force: true })
await mkdir(dist, { recursive: true })

await build({
  entryPoints: [join(root, 'src/app.js')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  legalComments: 'linked',
  logLevel: 'warning'
})
for (const f of ['index.html', 'style.css']) await copyFile(join(root, f), join(dist, f))
console.log('agency console built in', dist)
