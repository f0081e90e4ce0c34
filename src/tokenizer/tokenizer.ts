/**
 * A checkpoint's tokenizer: `tokenizer.json` (the Rust `tokenizers` format, run by
 * `@huggingface/tokenizers`) plus `tokenizer_config.json` (special tokens, chat template), with the
 * chat template rendered by `@huggingface/jinja` exactly as `transformers`' `apply_chat_template`.
 *
 * Encoding defaults to `addSpecialTokens: false`: everything `sil` encodes is either a rendered chat
 * template (which already contains BOS; adding another would give the double-BOS sequence the model
 * never saw in training) or a response continuing one.
 */
import { SilError } from '../errors';

// Both packages are ES modules that also ship CommonJS builds (their `require` export condition).
// Their declarations are ESM-only, so the few members used here are declared locally.
interface Tokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { content: string }>;
}
interface Template {
  render(context: Record<string, unknown>): string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: new (tokenizerJson: object, config: object) => Tokenizer };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Template } = require('@huggingface/jinja') as { Template: new (template: string) => Template };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** The special-token names `transformers` passes to chat templates. */
export const SPECIAL_TOKEN_NAMES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
export type SpecialTokenName = (typeof SPECIAL_TOKEN_NAMES)[number];

export interface RenderOptions {
  /** Append the assistant header so the model's next tokens are its reply (default false). */
  addGenerationPrompt?: boolean;
  /** Extra template variables, e.g. `{ enable_thinking: false }` (Qwen3) or `{ date_string }` (Llama-3.1). */
  templateKwargs?: Record<string, unknown>;
}

/** A token the tokenizer knows, with its id. */
export interface TokenRef {
  token: string;
  id: number;
}

/** `tokenizer_config.json` special tokens are strings, `null`, or `{content: …}` AddedToken objects. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

export class CheckpointTokenizer {
  /** Special tokens by name (`bos_token`, `eos_token`, …); `null` where the config has none. */
  readonly specialTokens: Readonly<Record<SpecialTokenName, string | null>>;
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  private readonly jsonPadId: number | undefined;
  private eot: TokenRef | undefined;

  /**
   * @param source where the files came from (a folder), named in error messages
   * @param tokenizerJson parsed `tokenizer.json`
   * @param config parsed `tokenizer_config.json` (`{}` when absent)
   * @param chatTemplate the Jinja chat template, or `null` when the checkpoint has none
   */
  constructor(
    readonly source: string,
    tokenizerJson: object,
    readonly config: Readonly<Record<string, unknown>>,
    readonly chatTemplate: string | null,
  ) {
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    const padding = (tokenizerJson as { padding?: { pad_id?: unknown } | null }).padding;
    this.jsonPadId = typeof padding?.pad_id === 'number' ? padding.pad_id : undefined;
    const special = {} as Record<SpecialTokenName, string | null>;
    for (const name of SPECIAL_TOKEN_NAMES) special[name] = tokenContent(config[name]);
    this.specialTokens = special;
    try {
      this.template = chatTemplate === null ? null : new Template(chatTemplate);
    } catch (e) {
      throw new SilError('INVALID_CONFIG', `chat template does not parse: ${(e as Error).message}`, { file: source });
    }
  }

  /** Token ids of `text`; special tokens (BOS…) are added only when `addSpecialTokens` is true. */
  encode(text: string, { addSpecialTokens = false }: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Text of `ids`; special tokens are kept unless `skipSpecialTokens` is true. */
  decode(ids: readonly number[], { skipSpecialTokens = false }: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** Added tokens (special and not) by id, as listed in `tokenizer.json`. */
  addedTokens(): Map<number, string> {
    const out = new Map<number, string>();
    for (const [id, t] of this.tokenizer.get_added_tokens_decoder()) out.set(id, t.content);
    return out;
  }

  /**
   * Renders the chat template as `transformers`' `apply_chat_template(messages, tokenize=False)`:
   * the template sees `messages`, `add_generation_prompt`, every special token by name
   * (`bos_token`, `eos_token`, …), and `templateKwargs`.
   */
  renderChat(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    if (!this.template) {
      throw new SilError('INVALID_CONFIG', 'checkpoint has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja)', { file: this.source });
    }
    const context: Record<string, unknown> = {};
    for (const name of SPECIAL_TOKEN_NAMES) if (this.specialTokens[name] !== null) context[name] = this.specialTokens[name];
    Object.assign(context, opts.templateKwargs ?? {});
    context.messages = messages.map((m) => ({ ...m }));
    context.add_generation_prompt = opts.addGenerationPrompt ?? false;
    try {
      return this.template.render(context);
    } catch (e) {
      throw new SilError('INVALID_DATA', `chat template failed to render: ${(e as Error).message}`, { file: this.source });
    }
  }

  /** Id of the padding token: the config's `pad_token`, else `tokenizer.json`'s padding id, else 0. */
  padId(): number {
    const pad = this.specialTokens.pad_token;
    const id = pad === null ? undefined : this.tokenToId(pad);
    return id ?? this.jsonPadId ?? 0;
  }

  /**
   * The token that closes an assistant turn (`<|eot_id|>` for Llama-3, `<|im_end|>` for Qwen,
   * `</s>` for Mistral, `<end_of_turn>` for Gemma).
   *
   * Found from the template itself: render a user turn and an assistant turn whose content is a
   * marker, and take the longest added token that starts right after the marker. When the template
   * puts no added token there (or does not render), fall back to the config's `eos_token`.
   */
  endOfTurn(): TokenRef {
    if (this.eot) return this.eot;
    const marker = 'SIL_RESPONSE_END_MARKER';
    let after: string | null = null;
    try {
      const text = this.renderChat([
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: marker },
      ]);
      const at = text.lastIndexOf(marker);
      if (at >= 0) after = text.slice(at + marker.length);
    } catch {
      after = null;
    }
    let best: TokenRef | undefined;
    if (after !== null) {
      for (const [id, token] of this.addedTokens()) {
        if (token.length > 0 && after.startsWith(token) && (!best || token.length > best.token.length)) best = { token, id };
      }
    }
    if (!best) {
      const eos = this.specialTokens.eos_token;
      const id = eos === null ? undefined : this.tokenToId(eos);
      if (eos === null || id === undefined) {
        throw new SilError('INVALID_CONFIG', 'cannot tell the end-of-turn token: the chat template puts no added token after an assistant reply and there is no eos_token', { file: this.source });
      }
      best = { token: eos, id };
    }
    this.eot = best;
    return best;
  }
}
