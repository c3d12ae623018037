import { runQuickstart } from './demo.js'

// Embedded defaults: no credentials and no network (see demo.ts).
await runQuickstart((line) => console.log(line))
console.log('quickstart: done')
