// Builds the officer's scanner page into dist/: the app bundled by esbuild
// from the npm packages (barcode-detector over zxing-wasm), the zxing wasm
// file copied next to it and served by field-client itself (never from a
// CDN), the page and its style. Run by scripts/build-web (npm workspace:
// the packages live in the root node_modules).
import { build } from 'esbuild'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

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
// The wasm the bundled zxing-wasm glue was built with (the same package).
// Resolved as Node resolves it (the workspace hoists it to the root).
const wasm = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm')
await copyFile(wasm, join(dist, 'zxing_reader.wasm'))
for (const f of ['index.html', 'style.css']) await copyFile(join(root, f), join(dist, f))
console.log('scanner built in', dist)
