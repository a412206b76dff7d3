/**
 * The app's import graph (docs/architecture.md): no file imports itself through a loop, and every
 * import points to the same layer or a lower one. Type-only imports count: a loop of types is
 * still a loop a reader has to untangle. A new file gets the layer of the first pattern it
 * matches; a file that matches none fails here, so the table stays complete.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));

/** Lowest first. A file may import files of its own layer or of lower ones. */
export const LAYERS: readonly { readonly name: string; readonly files: readonly RegExp[] }[] = [
  {
    name: 'leaves',
    files: [
      /^util\//,
      /^config\/schema\.ts$/,
      /^backend\.ts$/,
      /^report\/(stats|svg)\.ts$/,
      /^run\/(signals|collapse)\.ts$/,
    ],
  },
  { name: 'records', files: [/^run\//, /^report\/results\.ts$/, /^runtime\.ts$/] },
  {
    name: 'task',
    files: [/^task\.ts$/, /^checkpoint\.ts$/, /^eval\/evaluate\.ts$/, /^context-budget\.ts$/],
  },
  { name: 'models and evaluation', files: [/^model-io\.ts$/, /^eval\//] },
  {
    name: 'the step pipeline',
    files: [/^train\/(common|update|step-metrics|generation-rounds|method-spec|pipeline)\.ts$/],
  },
  { name: 'methods', files: [/^methods\//] },
  {
    name: 'runs',
    files: [/^train\//, /^config\/decode\.ts$/, /^pretrain\.ts$/, /^testing\//],
  },
  {
    name: 'commands',
    files: [
      /^compare(-worker)?\.ts$/,
      /^report\//,
      /^commands\//,
      /^cli\.ts$/,
      /^(index|step-api)\.ts$/,
    ],
  },
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = sources(SRC).map((f) => relative(SRC, f).split('\\').join('/'));

/** Relative imports of `file` (static `import`/`export … from`, type-only included). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g)) {
    const target = join(dirname(file), (m[1] as string).replace(/\.js$/, '.ts'));
    out.push(target.split('\\').join('/'));
  }
  return out;
}

const layerOf = (file: string): number =>
  LAYERS.findIndex((l) => l.files.some((r) => r.test(file)));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('the app import graph', () => {
  it('gives every source file a layer', () => {
    expect(files.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('has no upward arrow', () => {
    const upward = files.flatMap((f) =>
      (graph.get(f) ?? [])
        .filter((t) => layerOf(t) > layerOf(f))
        .map((t) => `${f} (${LAYERS[layerOf(f)]?.name}) → ${t} (${LAYERS[layerOf(t)]?.name})`),
    );
    expect(upward).toEqual([]);
  });

  it('has no loop', () => {
    const loops: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        loops.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(loops).toEqual([]);
  });

  it('sees the imports it checks (the parser finds the pipeline importing the method spec)', () => {
    expect(graph.get('train/pipeline.ts')).toContain('train/method-spec.ts');
  });
});
