// Reads image paths from stdin, one per line, and answers each with one JSON
// line: {"path", "ms", "cpuMs", "width", "height", "lines": [{"text", "mean",
// "box"}]}; cpuMs is the process's CPU time (all threads) during the call.
// The timing covers @gutenye/ocr-node's own call (decode, detection,
// recognition), as the Go side times the core's decode and pipeline run.
// Boxes are mapped back from the padded multiple-of-32 frame that
// @gutenye's detection resizes into ("contain": scaled, centred) to the
// original image's pixels.
import readline from 'node:readline'
import Ocr from '@gutenye/ocr-node'
import sharp from 'sharp'

const ocr = await Ocr.create()
process.stdout.write(JSON.stringify({ ready: true }) + '\n')

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const path of rl) {
  if (path === '') continue
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const lines = await ocr.detect(path)
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  const cpuMs = (c.user + c.system) / 1000
  const { width, height } = await sharp(path).metadata()
  const w32 = Math.max(Math.ceil(width / 32) * 32, 32)
  const h32 = Math.max(Math.ceil(height / 32) * 32, 32)
  const s = Math.min(w32 / width, h32 / height)
  const left = Math.floor((w32 - Math.round(width * s)) / 2)
  const top = Math.floor((h32 - Math.round(height * s)) / 2)
  const out = lines.map((l) => ({
    text: l.text,
    mean: l.mean,
    box: (l.box ?? []).map(([x, y]) => [(x - left) / s, (y - top) / s]),
  }))
  process.stdout.write(JSON.stringify({ path, ms, cpuMs, width, height, lines: out }) + '\n')
}
