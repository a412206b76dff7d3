#!/usr/bin/env node
// The fused kernels' SIMD128 GEMM and scatter-add of @covrl/tfjs-wasm-blas in a browser's wasm
// backend: bundles TF.js, its wasm backend and dist/fused-kernels.js (no Node API) with esbuild,
// serves the page and the backend's .wasm files on 127.0.0.1, opens it in headless Chromium and
// prints what the page posts back: the backend, the status, the largest difference from TF.js's
// cpu backend over every transpose combination and a broadcast batch, a gather gradient, and
// GFLOP/s on the reference shapes with the GEMM and with the stock kernels (best of 5 × 5 calls).
//
// Needs `npm run build` and a Chromium (Debian: apt-get install chromium; or CHROMIUM=path).
// Run: node benchmarks/browser/gemm-in-chromium.mjs
/* global setTimeout */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const root = new URL('../..', import.meta.url).pathname;
const fused = join(root, 'packages/tfjs-wasm-blas/dist/fused-kernels.js');
const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

const page = `
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { enableWasmFusedKernels, disableWasmFusedKernels } from ${JSON.stringify(fused)};
const out = {};
async function main() {
  setWasmPaths('/wasm/');
  await tf.setBackend('wasm');
  out.backend = tf.getBackend();
  out.userAgent = navigator.userAgent;
  const status = enableWasmFusedKernels();
  out.gemm = status.gemm;
  out.reason = status.reason;
  const cases = [[[37, 300], [300, 45], false, false], [[300, 37], [300, 45], true, false],
    [[37, 300], [45, 300], false, true], [[3, 300, 37], [1, 45, 300], true, true]];
  const run = () => cases.map(([sa, sb, ta, tb], i) => tf.tidy(() => tf.matMul(
    tf.randomUniform(sa, -1, 1, 'float32', i), tf.randomUniform(sb, -1, 1, 'float32', 100 + i), ta, tb).dataSync()));
  const onWasm = run();
  out.gatherGrad = Array.from(tf.tidy(() => tf.grad((t) => tf.sum(tf.mul(
    tf.gather(t, tf.tensor1d([5, 1, 5, 9], 'int32')), tf.reshape(tf.range(0, 12), [4, 3]))))(tf.zeros([10, 3])).dataSync()));
  await tf.setBackend('cpu');
  const onCpu = run();
  await tf.setBackend('wasm');
  out.maxAbsDiffFromCpu = Math.max(...onWasm.map((w, i) => Math.max(...w.map((v, j) => Math.abs(v - onCpu[i][j])))));
  const shapes = { plain: [[2048, 128], [128, 512], false, false], transposeA: [[2048, 128], [2048, 512], true, false],
    transposeB: [[2048, 128], [512, 128], false, true], batchedQKt: [[64, 128, 32], [64, 128, 32], false, true],
    batchedPV: [[64, 128, 128], [64, 128, 32], false, false] };
  const gflops = () => {
    const result = {};
    for (const [name, [sa, sb, ta, tb]] of Object.entries(shapes)) {
      const a = tf.randomNormal(sa), b = tf.randomNormal(sb);
      const o = tf.matMul(a, b, ta, tb);
      const flops = 2 * o.size * (ta ? sa.at(-2) : sa.at(-1));
      o.dispose();
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        for (let i = 0; i < 5; i++) tf.matMul(a, b, ta, tb).dispose();
        best = Math.min(best, (performance.now() - t) / 5);
      }
      result[name] = +(flops / best / 1e6).toFixed(1);
      tf.dispose([a, b]);
    }
    return result;
  };
  gflops(); // warm-up: lets V8 tier the module up
  out.gemmGflops = gflops();
  disableWasmFusedKernels();
  out.stockGflops = gflops();
}
main().then(() => out, (e) => ({ error: String(e && e.stack || e) }))
  .then((body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) }));
`;

const work = mkdtempSync(join(tmpdir(), 'covrl-browser-'));
let server;
let chromium;
try {
  await esbuild.build({
    stdin: { contents: page, resolveDir: root, sourcefile: 'page.js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(work, 'bundle.js'),
    logLevel: 'warning',
  });
  const result = await new Promise((resolve, reject) => {
    server = createServer((req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          res.end('ok');
          resolve(JSON.parse(body));
        });
        return;
      }
      const files = {
        '/': [join(work, 'index.html'), 'text/html'],
        '/bundle.js': [join(work, 'bundle.js'), 'text/javascript'],
      };
      const wasm = req.url?.startsWith('/wasm/') ? join(wasmDir, req.url.slice(6)) : null;
      const [path, type] = wasm !== null ? [wasm, 'application/wasm'] : (files[req.url] ?? []);
      try {
        const body = readFileSync(path);
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      } catch {
        res.writeHead(404);
        res.end();
      }
    });
    writeFileSync(
      join(work, 'index.html'),
      '<!doctype html><script type="module" src="/bundle.js"></script>',
    );
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      chromium = spawn(
        process.env['CHROMIUM'] ?? 'chromium',
        [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          `--user-data-dir=${join(work, 'profile')}`,
          `http://127.0.0.1:${port}/`,
        ],
        { stdio: 'ignore' },
      );
      chromium.on('error', reject);
    });
    setTimeout(() => reject(new Error('no result from the page within 10 minutes')), 600_000);
  });
  console.log(JSON.stringify(result));
} finally {
  if (chromium !== undefined && chromium.exitCode === null) {
    const exited = new Promise((resolve) => chromium.once('exit', resolve));
    chromium.kill();
    await exited;
  }
  server?.close();
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
process.exit(0);
