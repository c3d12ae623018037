import { runTour } from './tour.js'

// A tour of the vault adapter, offline (see tour.ts).
const summary = await runTour((line) => console.log(line))
console.log(`custom-provider: done, ${summary.requests} requests to the vault`)
