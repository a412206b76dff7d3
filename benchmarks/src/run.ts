/**
 * `npm run bench -- --json`: runs every benchmark and prints, as its last line, one JSON object.
 * Benchmarks register themselves in `./suites.ts`.
 */
import { selectBackend } from 'covrl/backend';

const json = process.argv.includes('--json');
const selection = await selectBackend();
const result = { backend: selection.backend };
if (!json) console.log(`backend: ${selection.backend}`);
console.log(JSON.stringify(result));
