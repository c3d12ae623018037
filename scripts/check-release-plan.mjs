// Fails when the pending changesets would release a 0.x package as 1.0.0. Changesets bumps a
// package to its next major when a peer dependency's new version falls outside its range, and
// `^0.1.0` does not include 0.2.0: a core minor would have made every adapter 1.0.0. Run by
// `pnpm lint`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const folder = mkdtempSync(join(tmpdir(), 'cardport-release-plan-'))
const output = join(folder, 'plan.json')
try {
  execFileSync('changeset', ['status', `--output=${output}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const { releases } = JSON.parse(readFileSync(output, 'utf8'))
  const jumps = releases.filter(
    (release) => release.type === 'major' && release.oldVersion.startsWith('0.'),
  )
  for (const release of jumps) {
    console.error(
      `${release.name} ${release.oldVersion} would be released as ${release.newVersion}: check its peer dependency ranges (see .changeset/README.md)`,
    )
  }
  if (jumps.length > 0) process.exitCode = 1
  else
    console.log(
      `release plan: ${releases.filter((r) => r.type !== 'none').length} packages, no 0.x package made 1.0.0`,
    )
} finally {
  rmSync(folder, { recursive: true, force: true })
}
