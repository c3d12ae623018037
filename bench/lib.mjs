// Shared by the benchmarks: side-by-side measurement with tinybench and ratio printing.
import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Bench } from 'tinybench'

/**
 * Measures `candidate` and `baseline` in the same run, interleaved over several rounds so
 * that neither gets the warmer machine, and returns their median latencies and the ratio.
 * The ratio is the median of the per-round ratios: each round pairs two measurements taken
 * seconds apart, so that a machine whose load drifts (other processes) moves both alike.
 */
export async function compare(title, { candidate, baseline }, { time = 1500, rounds = 3 } = {}) {
  const samples = { candidate: [], baseline: [] }
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: time / rounds, warmup: true })
    const order = round % 2 === 0 ? ['candidate', 'baseline'] : ['baseline', 'candidate']
    const fns = { candidate: candidate.fn, baseline: baseline.fn }
    for (const key of order) bench.add(key, fns[key])
    await bench.run()
    for (const task of bench.tasks) {
      if (task.result.state !== 'completed') {
        throw new Error(`${title}: ${task.name} ${task.result.state}: ${task.result.error ?? ''}`)
      }
      samples[task.name].push(task.result.latency.p50)
    }
  }
  const ratios = samples.candidate.map((ms, round) => ms / samples.baseline[round])
  return {
    title,
    candidate: { name: candidate.name, medianMs: median(samples.candidate) },
    baseline: { name: baseline.name, medianMs: median(samples.baseline) },
    ratio: median(ratios),
    roundRatios: ratios,
  }
}

/** Prints one comparison: both medians, per-second rates and the ratio against a target. */
export function report(result, target) {
  const perSecond = (ms) => (ms > 0 ? Math.round(1000 / ms).toLocaleString('en-US') : '∞')
  const line = (side) =>
    `  ${side.name.padEnd(44)} median ${side.medianMs.toFixed(4).padStart(10)} ms  ${perSecond(side.medianMs).padStart(12)}/s`
  console.log(`\n${result.title}`)
  console.log(line(result.candidate))
  console.log(line(result.baseline))
  const verdict = target
    ? `  (target ${target.text}: ${target.met(result.ratio) ? 'met' : 'NOT met'})`
    : ''
  const rounds = result.roundRatios
    ? ` (per round: ${result.roundRatios.map((ratio) => ratio.toFixed(2)).join(', ')})`
    : ''
  console.log(`  ratio ${result.ratio.toFixed(3)}${rounds}${verdict}`)
}

/**
 * Runs `concurrency` loops of `fn` for `durationMs` and returns the completed calls per second
 * (throughput with that many requests in flight at once) and the share of that time this
 * process spent on a CPU (well under 1: it mostly waited for the server).
 */
export async function throughput(fn, { concurrency, durationMs }) {
  let done = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      await fn()
      done++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const ms = performance.now() - started
  const { user, system } = process.cpuUsage(cpu)
  return { perSecond: done / (ms / 1000), cpuShare: (user + system) / 1000 / ms }
}

/**
 * Measures the throughput of `candidate` and `baseline` in alternating rounds (after one short
 * warm-up round each) and returns the median requests/s of each and the median of the
 * per-round ratios (candidate / baseline: above 1 means the candidate is faster).
 */
export async function compareThroughput(
  title,
  { candidate, baseline },
  { concurrency = 16, durationMs = 2000, rounds = 5 } = {},
) {
  const sides = { candidate, baseline }
  for (const side of Object.values(sides)) {
    await throughput(side.fn, { concurrency, durationMs: Math.min(500, durationMs) })
  }
  const samples = { candidate: [], baseline: [] }
  const cpu = { candidate: [], baseline: [] }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['candidate', 'baseline'] : ['baseline', 'candidate']
    for (const key of order) {
      const measured = await throughput(sides[key].fn, { concurrency, durationMs })
      samples[key].push(measured.perSecond)
      cpu[key].push(measured.cpuShare)
    }
  }
  const ratios = samples.candidate.map((rate, round) => rate / samples.baseline[round])
  const side = (key) => ({
    name: sides[key].name,
    perSecond: median(samples[key]),
    samples: samples[key],
    cpuShare: median(cpu[key]),
  })
  return {
    title,
    concurrency,
    candidate: side('candidate'),
    baseline: side('baseline'),
    ratio: median(ratios),
    roundRatios: ratios,
  }
}

/** Prints one throughput comparison. */
export function reportThroughput(result, target) {
  const line = (side) =>
    `  ${side.name.padEnd(52)} ${Math.round(side.perSecond).toLocaleString('en-US').padStart(9)} req/s  client CPU ${Math.round(side.cpuShare * 100)}%  (rounds: ${side.samples.map((value) => Math.round(value)).join(', ')})`
  console.log(`\n${result.title} (${result.concurrency} in flight)`)
  console.log(line(result.candidate))
  console.log(line(result.baseline))
  const verdict = target
    ? `  (target ${target.text}: ${target.met(result.ratio) ? 'met' : 'NOT met'})`
    : ''
  const rounds = result.roundRatios.map((ratio) => ratio.toFixed(2)).join(', ')
  console.log(`  ratio ${result.ratio.toFixed(3)} (per round: ${rounds})${verdict}`)
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = values.toSorted((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * Command-line flags: `--name value`, `--name=value`, or `--flag` (true). Numeric values become
 * numbers.
 */
export function parseFlags(argv = process.argv.slice(2)) {
  const flags = {}
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(argv[i])
    if (!match) throw new Error(`unexpected argument ${argv[i]}: flags are --name [value]`)
    let value = match[2]
    if (value === undefined) {
      value = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : true
    }
    flags[match[1]] =
      typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  }
  return flags
}

/**
 * The entry point of a benchmark script run directly: parses the flags, runs it, and with
 * `--json` prints the result as the last line of stdout (`--json=<file>` writes it there).
 */
export async function main(moduleUrl, run) {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return
  const flags = parseFlags()
  const result = await run(flags)
  if (flags.json === true) console.log(JSON.stringify(result))
  else if (typeof flags.json === 'string')
    writeFileSync(flags.json, JSON.stringify(result, null, 2))
}
