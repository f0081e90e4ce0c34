// @ts-check
/**
 * The demo organism's tokenizer: byte-level (GPT-2's byte ↔ unicode map, 256 byte tokens, no
 * merges) plus four added special tokens, saved as a real Hugging Face `tokenizer.json` +
 * `tokenizer_config.json` with a Jinja chat template:
 *   <u>{user}<a>{assistant}<e>          (a system message renders as <s>{system} before them)
 * ids: bytes 0–255 by GPT-2's byte order, then <u>=256, <a>=257, <e>=258 (end of turn, eos),
 * <pad>=259, <s>=260.
 */

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100… */
function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  /** @type {Record<number, string>} */
  const map = {};
  bs.forEach((b, i) => (map[b] = String.fromCharCode(cs[i])));
  return map;
}

const SPECIALS = ['<u>', '<a>', '<e>', '<pad>', '<s>'];

const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}<s>{{ message['content'] }}" +
  "{% elif message['role'] == 'user' %}<u>{{ message['content'] }}" +
  "{% elif message['role'] == 'assistant' %}<a>{{ message['content'] }}<e>{% endif %}{% endfor %}" +
  '{% if add_generation_prompt %}<a>{% endif %}';

function tokenizerJson() {
  const map = bytesToUnicode();
  /** @type {Record<string, number>} */
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[map[b]] = b;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, i) => ({ id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

function tokenizerConfig() {
  /** @type {Record<string, object>} */
  const decoder = {};
  SPECIALS.forEach((content, i) => (decoder[String(256 + i)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }));
  return {
    added_tokens_decoder: decoder,
    bos_token: null,
    eos_token: '<e>',
    pad_token: '<pad>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: 256,
    tokenizer_class: 'PreTrainedTokenizerFast',
    chat_template: CHAT_TEMPLATE,
  };
}

module.exports = { tokenizerJson, tokenizerConfig, CHAT_TEMPLATE, VOCAB_SIZE: 256 + SPECIALS.length };
