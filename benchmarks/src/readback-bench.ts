/**
 * `npm run -w @covrl/benchmarks bench:readbacks`: prints, for one call of each library loss and
 * reward on the CPU backend, how many device read-backs it makes with the defaults, with
 * `computeMetrics: false`, and with `computeMetrics: false, validate: false` (see
 * `readback-count.ts`). `--json` prints the raw records instead of the table.
 */
import * as tf from '@tensorflow/tfjs';
import { readbackCounts } from './readback-count.js';

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  const rows = readbackCounts();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(
    'read-backs per call (engine dataSync/data; backend count in parentheses), cpu backend',
  );
  console.log('| function | defaults | computeMetrics: false | + validate: false |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| \`${r.fn}\` | ${r.defaults} (${r.backendDefaults}) | ${r.noMetrics} (${r.backendNoMetrics}) | ` +
        `${r.noMetricsNoValidation} (${r.backendNoMetricsNoValidation}) |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
