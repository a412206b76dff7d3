/**
 * Follows new-method.md verbatim: copies the app's sources into a scratch directory inside the
 * app (so its dependencies resolve), saves the guide's ```ts block as `methods/reinforce.ts`,
 * applies the guide's ```diff block to `methods/index.ts`, bundles the CLI with esbuild (the
 * workspace packages from their sources, as the tests see them) and trains two steps with
 * `covrl train --method reinforce` on the embedded base.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const app = join(root, 'apps/covrl');
const guide = readFileSync(new URL('./new-method.md', import.meta.url), 'utf8');
const scratch = mkdtempSync(join(app, '.guide-new-method-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The first fenced block of `lang` in the guide. */
function block(lang: string): string {
  const found = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(guide)?.[1];
  if (found === undefined) throw new Error(`new-method.md has no \`\`\`${lang} block`);
  return found;
}

/**
 * Apply a unified-diff body to `text`: each run of `+` lines goes after the context line before
 * it (matched by its trimmed text, in order); `-` lines are removed.
 */
export function applyDiff(text: string, diff: string): string {
  const lines = text.split('\n');
  let at = 0;
  for (const d of diff.replace(/\n$/, '').split('\n')) {
    const body = d.slice(1);
    if (d.startsWith('+')) {
      lines.splice(at, 0, body);
      at++;
      continue;
    }
    const i = lines.findIndex((l, k) => k >= at && l.trim() === body.trim());
    if (i < 0) throw new Error(`diff context not found: ${JSON.stringify(body)}`);
    if (d.startsWith('-')) lines.splice(i, 1);
    at = d.startsWith('-') ? i : i + 1;
  }
  return lines.join('\n');
}

/** Resolve `@covrl/<pkg>[/<subpath>]` to the source its ESM export is built from. */
function workspaceSources(): Plugin {
  const map = new Map<string, string>();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const file = join(root, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; exports?: object };
    for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
      const js = JSON.stringify(target).match(/"\.\/dist\/(?:esm\/)?([^"]+)\.js"/)?.[1];
      if (js === undefined) continue;
      map.set(
        sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`,
        join(root, 'packages', dir, 'src', `${js}.ts`),
      );
    }
  }
  return {
    name: 'workspace-sources',
    setup(b) {
      b.onResolve({ filter: /^@covrl\// }, (args) => {
        const path = map.get(args.path);
        return path === undefined ? undefined : { path };
      });
    },
  };
}

describe('docs/guides/new-method.md', () => {
  it('adds a fifth method in one file plus its registry entry, and trains it through the CLI', async () => {
    cpSync(join(app, 'src'), join(scratch, 'src'), { recursive: true });
    cpSync(join(app, 'package.json'), join(scratch, 'package.json'));
    symlinkSync(join(app, 'assets'), join(scratch, 'assets'));
    writeFileSync(join(scratch, 'src/methods/reinforce.ts'), block('ts'));
    const index = join(scratch, 'src/methods/index.ts');
    writeFileSync(index, applyDiff(readFileSync(index, 'utf8'), block('diff')));

    await build({
      entryPoints: [join(scratch, 'src/cli.ts')],
      outfile: join(scratch, 'dist/cli.js'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      plugins: [workspaceSources()],
      logLevel: 'silent',
    });
    const run = join(scratch, 'run');
    const flags = {
      'train.steps': '2',
      'train.questionsPerStep': '2',
      'train.groupSize': '4',
      'train.evalEvery': '100',
      'train.checkpointEvery': '100',
      'eval.maxQuestions': '2',
      'eval.samples': '1',
    };
    execFileSync(
      process.execPath,
      [
        join(scratch, 'dist/cli.js'),
        '--backend',
        'cpu',
        'train',
        '--method',
        'reinforce',
        '--preset',
        'quick',
        ...Object.entries(flags).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
        '-o',
        run,
      ],
      { cwd: root, stdio: 'pipe', timeout: 120_000 },
    );
    const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; metrics?: Record<string, number> })
      .filter((r) => r.type === 'step');
    expect(steps).toHaveLength(2);
    for (const s of steps) {
      expect(Number.isFinite(s.metrics?.['loss/pg'])).toBe(true);
      expect(s.metrics?.['grad/norm']).toBeGreaterThan(0);
      expect(s.metrics?.['rollout/valid_fraction']).toBeGreaterThanOrEqual(0);
    }
    expect(existsSync(join(run, 'model'))).toBe(true);
  }, 180_000);
});
