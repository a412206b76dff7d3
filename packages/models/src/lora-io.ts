/**
 * LoRA adapters on disk in PEFT's layout (Node only; listed by `@covrl/models/node`):
 *
 * ```
 * adapter_config.json          PEFT LoraConfig (peft_type LORA, r, lora_alpha, target_modules, …)
 * adapter_model.safetensors    base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r]
 * ```
 *
 * @packageDocumentation
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './formats/atomic-write.js';
import type { FloatTensorEntry } from './formats/hf-weights.js';
import { parseSafetensors, serializeSafetensors } from './formats/safetensors.js';
import type { LoraAdapters } from './lora.js';
import { loraConfigFromPeft, loraConfigToPeft } from './lora.js';
import type { CausalLM } from './model.js';

/** PEFT's adapter config file. */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
/** PEFT's adapter weights file. */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/**
 * Write the adapters of `model` to `dir` as PEFT does (`save_pretrained` of a `PeftModel`):
 * `adapter_config.json` from `loraConfigToPeft` and `adapter_model.safetensors` (F32, metadata
 * `{ format: 'pt' }`) with PEFT's tensor names. Files are written atomically; `dir` is created.
 * @throws Error when the model has no adapters.
 */
export async function saveLoraAdapter(
  dir: string,
  model: CausalLM,
  options: { readonly baseModelNameOrPath?: string } = {},
): Promise<void> {
  const lora = model.lora;
  if (lora === undefined) {
    throw new Error(`saveLoraAdapter: ${dir}: the model has no LoRA adapters (call addLora first)`);
  }
  const config = loraConfigToPeft(lora.config, {
    family: model.config.family,
    baseModelNameOrPath: options.baseModelNameOrPath ?? null,
  });
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(
    join(dir, ADAPTER_WEIGHTS_FILE),
    serializeSafetensors(lora.toPeftTensors(), { format: 'pt' }),
  );
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Read a PEFT adapter directory and attach it to `model` (`model.addLora` with the decoded
 * config, then the tensors). F32, F16 and BF16 adapter files are accepted (widened to float32).
 * @throws Error naming the file and the field or tensor (see `loraConfigFromPeft` and
 *   `LoraAdapters.setFromPeftTensors`); the model is left without adapters on failure.
 */
export async function loadLoraAdapter(dir: string, model: CausalLM): Promise<LoraAdapters> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(
      `loadLoraAdapter: cannot read ${configPath}: ${(error as Error).message} (a PEFT adapter directory has adapter_config.json and adapter_model.safetensors)`,
    );
  }
  const config = loraConfigFromPeft(json, configPath);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(weightsPath);
  } catch (error) {
    throw new Error(`loadLoraAdapter: cannot read ${weightsPath}: ${(error as Error).message}`);
  }
  const { tensors } = parseSafetensors(bytes, { file: weightsPath });
  const floats: Record<string, FloatTensorEntry> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t.data instanceof Float32Array)) {
      throw new Error(`loadLoraAdapter: ${weightsPath}: tensor '${name}' is not a float tensor`);
    }
    floats[name] = { shape: t.shape, data: t.data };
  }
  const adapters = model.addLora(config, { seed: 0 });
  try {
    adapters.setFromPeftTensors(floats, weightsPath);
  } catch (error) {
    model.removeLora();
    throw error;
  }
  return adapters;
}
