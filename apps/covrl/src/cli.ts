#!/usr/bin/env node
/**
 * The `covrl` command line. Each subcommand lives in its own module and is registered here.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { BACKEND_CHOICES, formatSelection, selectBackend } from './backend.js';
import { registerRunCommands } from './commands/run-commands.js';
import { enableWasmEngine } from './runtime.js';
import { registerDataCommands } from './commands/data.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('covrl')
    .description(
      'Verifier-free RL for reasoning LMs: pretrain a small base model, train it with CoVRL, VeriFree, RLPR or verifier GRPO, evaluate and compare.',
    )
    .version(pkg.version, '-v, --version', 'print the covrl version')
    .addOption(
      new Option(
        '--backend <name>',
        'TF.js backend (default: fastest that loads; env COVRL_BACKEND)',
      ).choices([...BACKEND_CHOICES]),
    )
    .showHelpAfterError();

  program
    .command('backend')
    .description('print the TF.js backend in use and why the others were skipped')
    .option('--json', 'print one JSON object instead of text')
    .action(async (opts: { json?: boolean }) => {
      const { backend } = program.opts<{ backend?: string }>();
      const selection = await selectBackend(backend);
      // On wasm, also the engine the runs would use (the same calls as initRuntime).
      const engine = selection.backend === 'wasm' ? enableWasmEngine() : undefined;
      if (opts.json === true) {
        console.log(JSON.stringify(engine === undefined ? selection : { ...selection, engine }));
        return;
      }
      const lines = [formatSelection(selection)];
      if (engine !== undefined) {
        const state = (active: boolean): string => (active ? 'active' : 'inactive');
        lines.push(`engine (@covrl/tfjs-wasm-blas):`);
        lines.push(`  BLAS matmuls   ${state(engine.blas.active)}: ${engine.blas.reason}`);
        lines.push(`  fused kernels  ${state(engine.fused.active)}: ${engine.fused.reason}`);
      }
      console.log(lines.join('\n'));
    });

  registerRunCommands(program);
  registerDataCommands(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    console.error(`covrl: ${error instanceof Error ? error.message : String(error)}`);
    // COVRL_DEBUG=1: the stack too, for bug reports.
    if (process.env['COVRL_DEBUG'] === '1' && error instanceof Error) console.error(error.stack);
    process.exitCode = 1;
  });
