import { describe, expect, it } from 'vitest'
import { createProgress } from './progress.js'

function stream(isTTY: boolean) {
  const writes: string[] = []
  return { isTTY, columns: 80, writes, write: (text: string) => writes.push(text) }
}

describe('createProgress', () => {
  it('draws nothing when the stream is not a terminal', () => {
    const output = stream(false)
    const progress = createProgress({
      label: 'reconciling',
      unit: 'owners',
      total: 2,
      stream: output,
    })
    progress.update(1)
    progress.update(2)
    progress.stop()
    expect(output.writes).toEqual([])
  })

  it('draws a bar with a known total, on one line, and erases it on stop', () => {
    const output = stream(true)
    let time = 0
    const progress = createProgress({
      label: 'reconciling',
      unit: 'owners',
      total: 4,
      stream: output,
      now: () => time,
    })
    progress.update(1)
    time += 1000
    progress.update(2)
    progress.stop()
    expect(output.writes).toHaveLength(3)
    expect(output.writes[1]).toBe(
      `\r\u001b[2Kreconciling [${'#'.repeat(15)}${'-'.repeat(15)}] 2/4 owners`,
    )
    expect(output.writes[2]).toBe('\r\u001b[2K')
    expect(output.writes.join('')).not.toContain('\n')
  })

  it('counts without a bar when the total is unknown, and draws at most once per interval', () => {
    const output = stream(true)
    let time = 0
    const progress = createProgress({
      label: 'reconciling',
      unit: 'owners',
      stream: output,
      now: () => time,
      intervalMs: 100,
    })
    progress.update(1)
    time += 10
    progress.update(2)
    time += 200
    progress.update(3)
    expect(output.writes.map((text) => text.replace('\r\u001b[2K', ''))).toEqual([
      'reconciling 1 owners',
      'reconciling 3 owners',
    ])
  })
})
