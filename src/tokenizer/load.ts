/**
 * Reads a checkpoint folder's tokenizer files: `tokenizer.json` (required), `tokenizer_config.json`,
 * and the chat template from, in order, `chat_template.jinja`, `chat_template.json` or the config's
 * `chat_template` (a string, or a list of `{name, template}` of which `default` is used).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { CheckpointTokenizer } from './tokenizer';

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new SilError('FILE_NOT_FOUND', 'tokenizer file not found', { file });
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new SilError('INVALID_CONFIG', 'expected a JSON object', { file });
}

function pickTemplate(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const def = named.find((t) => t.name === 'default') ?? named[0];
    if (def && typeof def.template === 'string') return def.template;
  }
  throw new SilError('INVALID_CONFIG', 'chat_template is neither a string nor a list of {name, template}', { file });
}

/** Loads the tokenizer of the checkpoint folder `dir`. */
export function loadTokenizer(dir: string): CheckpointTokenizer {
  const tokenizerJson = readJson(path.join(dir, 'tokenizer.json'));
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? readJson(configFile) : {};
  let template: string | null;
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  const jsonFile = path.join(dir, 'chat_template.json');
  if (fs.existsSync(jinjaFile)) template = fs.readFileSync(jinjaFile, 'utf8');
  else if (fs.existsSync(jsonFile)) template = pickTemplate(readJson(jsonFile).chat_template, jsonFile);
  else template = pickTemplate(config.chat_template, configFile);
  return new CheckpointTokenizer(dir, tokenizerJson, config, template);
}
