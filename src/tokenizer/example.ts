/**
 * Calibration / training examples: one (system?, prompt, response) turn as token ids with the loss
 * restricted to the response.
 *
 * Convention (the response span is defined explicitly, never by diffing two renderings):
 *   prompt ids   = encode(renderChat([system?, user: prompt], add_generation_prompt = true))
 *   response ids = encode(response) ++ [end-of-turn token]   (`<|eot_id|>` Llama-3, `<|im_end|>` Qwen)
 *   input_ids    = prompt ids ++ response ids
 *   labels       = -100 on every prompt position, the token id on every response position
 * Everything is encoded without added special tokens: the rendered template already carries BOS.
 * `render(prompt + reply)` is not used because it need not start with the generation prompt
 * (Qwen3 renders a final assistant turn with an empty `<think>\n\n</think>\n\n` block that the
 * generation prompt lacks). Text a template appends after the end-of-turn token (Qwen's `\n`) is
 * not part of the response. Labels are not shifted: the loss uses the usual causal shift
 * (logits at t predict label t+1), as in `transformers`.
 */
import { SilError } from '../errors';
import type { ChatMessage, CheckpointTokenizer, RenderOptions } from './tokenizer';

/** Label value excluded from the loss (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

export interface Turn {
  system?: string;
  prompt: string;
  response: string;
}

export interface Example {
  input_ids: number[];
  attention_mask: number[];
  labels: number[];
  /** Number of leading prompt tokens (labels there are IGNORE_INDEX). */
  promptLength: number;
  /** tokens cut to fit `context` (0 or absent: none) */
  cut?: number;
}

export interface ExampleOptions {
  /** Template variables passed to the chat template (e.g. `{ enable_thinking: false }`). */
  templateKwargs?: RenderOptions['templateKwargs'];
  /** Cut the response so the example has at most this many tokens (the prompt is never cut: a prompt this long is an error). */
  maxLength?: number;
  /**
   * The model's context (`max_position_embeddings`): a longer example is cut to it, the response
   * first (down to one token), then the prompt from its start, so that the generation prompt at its
   * end stays; `cut` says how many tokens went.
   */
  context?: number;
}

/** The chat messages of a turn without its reply: `[system?, user]`. */
export function promptMessages(turn: Pick<Turn, 'system' | 'prompt'>): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (turn.system !== undefined) messages.push({ role: 'system', content: turn.system });
  messages.push({ role: 'user', content: turn.prompt });
  return messages;
}

/** Prompt ids: the rendered generation prompt, encoded without added special tokens. */
export function encodePrompt(tok: CheckpointTokenizer, turn: Pick<Turn, 'system' | 'prompt'>, opts: ExampleOptions = {}): number[] {
  const text = tok.renderChat(promptMessages(turn), { addGenerationPrompt: true, templateKwargs: opts.templateKwargs });
  return tok.encode(text);
}

/** Response ids: the encoded reply followed by the template's end-of-turn token. */
export function encodeResponse(tok: CheckpointTokenizer, response: string): number[] {
  return [...tok.encode(response), tok.endOfTurn().id];
}

/** Builds one example with labels on the response tokens only (see the module comment). */
export function buildExample(tok: CheckpointTokenizer, turn: Turn, opts: ExampleOptions = {}): Example {
  let prompt = encodePrompt(tok, turn, opts);
  let response = encodeResponse(tok, turn.response);
  if (opts.maxLength !== undefined) {
    if (prompt.length >= opts.maxLength) {
      throw new SilError('INVALID_ARGUMENT', `prompt is ${prompt.length} tokens; maxLength ${opts.maxLength} leaves no room for a response`, { file: tok.source });
    }
    response = response.slice(0, opts.maxLength - prompt.length);
  }
  let cut = 0;
  const c = opts.context;
  if (c !== undefined && c >= 2 && prompt.length + response.length > c) {
    cut = prompt.length + response.length - c;
    const keepResponse = Math.max(1, c - prompt.length);
    response = response.slice(0, keepResponse);
    prompt = prompt.slice(prompt.length - (c - response.length));
  }
  return {
    input_ids: [...prompt, ...response],
    attention_mask: new Array<number>(prompt.length + response.length).fill(1),
    labels: [...new Array<number>(prompt.length).fill(IGNORE_INDEX), ...response],
    promptLength: prompt.length,
    ...(cut > 0 ? { cut } : {}),
  };
}
