// Shared by the benchmarks: side-by-side measurement with tinybench and ratio printing.
import { Bench } from 'tinybench'

/**
 * Measures `candidate` and `baseline` in the same run, interleaved over several rounds so
 * that neither gets the warmer machine, and returns their median latencies and the ratio.
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
  const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]
  const result = {
    title,
    candidate: { name: candidate.name, medianMs: median(samples.candidate) },
    baseline: { name: baseline.name, medianMs: median(samples.baseline) },
  }
  result.ratio = result.candidate.medianMs / result.baseline.medianMs
  return result
}

/** Prints one comparison: both medians, per-second rates and the ratio against a target. */
export function report(result, target) {
  const perSecond = (ms) => (ms > 0 ? Math.round(1000 / ms).toLocaleString('en-US') : '∞')
  const line = (side) =>
    `  ${side.name.padEnd(44)} median ${side.medianMs.toFixed(4).padStart(10)} ms  ${perSecond(side.medianMs).padStart(12)}/s`
  console.log(`\n${result.title}`)
  console.log(line(result.candidate))
  console.log(line(result.baseline))
  const verdict = target ? `  (target ${target.text}: ${target.met(result.ratio) ? 'met' : 'NOT met'})` : ''
  console.log(`  ratio ${result.ratio.toFixed(3)}${verdict}`)
}
