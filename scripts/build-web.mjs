// After each front-end's own build (scripts/build-web): writes the
// precompressed variants the binaries serve (webassets: FILE.br, FILE.gz,
// only where they save at least a tenth) and prints the sizes of every
// bundle, raw, gzipped and brotli. Deterministic: zlib's gzip header carries
// no time or name, brotli has none. Usage: node scripts/build-web.mjs [--quiet]
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const quiet = process.argv.includes('--quiet')
const root = new URL('..', import.meta.url).pathname
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const compressible = /\.(html|js|mjs|css|svg|json|webmanifest|txt|map|wasm)$/

function files (dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
}
const kb = (n) => (n / 1024).toFixed(1).padStart(8) + ' KiB'

let failed = false
for (const ws of workspaces) {
  const dist = join(root, ws, 'dist')
  try {
    if (!statSync(join(dist, 'index.html')).isFile()) throw new Error('not a file')
  } catch {
    console.error(`build-web: ${ws}/dist/index.html is missing after the build`)
    failed = true
    continue
  }
  // Variants from an earlier run go first: they are rewritten from the files.
  for (const f of files(dist)) if (/\.(br|gz)$/.test(f)) rmSync(f)
  const rows = []
  const total = { raw: 0, gz: 0, br: 0 }
  for (const f of files(dist)) {
    const raw = readFileSync(f)
    let gz = raw.length
    let br = raw.length
    if (compressible.test(f)) {
      const g = gzipSync(raw, { level: 9 })
      const b = brotliCompressSync(raw, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length }
      })
      if (g.length * 10 <= raw.length * 9) { writeFileSync(f + '.gz', g); gz = g.length }
      if (b.length * 10 <= raw.length * 9) { writeFileSync(f + '.br', b); br = b.length }
    }
    rows.push([relative(dist, f), raw.length, gz, br])
    total.raw += raw.length; total.gz += gz; total.br += br
  }
  if (quiet) continue
  console.log(`${ws}/dist (served as sent: gzip/brotli where it saves)`)
  console.log('  file'.padEnd(34) + 'raw'.padStart(12) + 'gzip'.padStart(12) + 'brotli'.padStart(12))
  for (const [name, raw, gz, br] of rows) console.log(`  ${name.padEnd(32)}${kb(raw)}${kb(gz)}${kb(br)}`)
  console.log(`  ${'total'.padEnd(32)}${kb(total.raw)}${kb(total.gz)}${kb(total.br)}`)
}
if (failed) process.exit(1)
