// Generates expected.json: the ids Hugging Face `tokenizers` (Rust, through the @anush008/tokenizers
// Node bindings, pinned in package.json) gives for the BLIP text tokenizer:
//   bert-base-uncased WordPiece (BertNormalizer: clean text, Chinese chars, strip accents, lowercase;
//   BertPreTokenizer; [CLS] ... [SEP]) with [DEC] = 30522 and [ENC] = 30523 added as special tokens.
// The tokenizer is assembled here from the library's own building blocks (not from the tokenizer.json the
// C# code writes), so the fixture checks the C# side independently.
//
// Usage (from this directory):  npm ci && node generate.mjs
// Reads  ../../../../shared/LiteVL.Model/Resources/bert-base-uncased-vocab.txt, writes expected.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import {
  Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder,
} from '@anush008/tokenizers';

const here = dirname(fileURLToPath(import.meta.url));
const vocabPath = join(here, '../../../../shared/LiteVL.Model/Resources/bert-base-uncased-vocab.txt');
const vocabText = readFileSync(vocabPath, 'utf8');
const vocab = vocabText.split('\n');
if (vocab[vocab.length - 1] === '') vocab.pop();
if (vocab.length !== 30522) throw new Error(`expected 30522 tokens in ${vocabPath}, got ${vocab.length}`);

const MAX_LENGTH = 35;
const CLS = 101, SEP = 102, PAD = 0;

async function buildTokenizer() {
  const model = await WordPiece.fromFile(vocabPath, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const tok = new Tokenizer(model);
  tok.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
  tok.setPreTokenizer(bertPreTokenizer());
  tok.setPostProcessor(bertProcessing(['[SEP]', SEP], ['[CLS]', CLS]));
  tok.setDecoder(wordPieceDecoder('##', true));
  // The bert-base-uncased tokenizer's special tokens, then BLIP's two additions (new ids 30522, 30523).
  tok.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[DEC]', '[ENC]']);
  for (const [t, id] of [['[PAD]', 0], ['[UNK]', 100], ['[CLS]', 101], ['[SEP]', 102], ['[MASK]', 103], ['[DEC]', 30522], ['[ENC]', 30523]]) {
    if (tok.tokenToId(t) !== id) throw new Error(`${t} has id ${tok.tokenToId(t)}, expected ${id}`);
  }
  if (tok.getVocabSize(true) !== 30524) throw new Error(`vocab size ${tok.getVocabSize(true)}`);
  return tok;
}

// BLIP's pre_caption, written from Python's documented rules (not from our C#), so the fixture can catch a C# mistake:
//   str.lower()                       full Unicode mapping (final sigma, U+0130 -> "i\u0307"); JS toLowerCase does the same
//   re.sub(r"([.!\"()*#:;~])", " ")    each of these characters becomes a space
//   re.sub(r"\s{2,}", " ")             a run of two or more whitespace characters becomes one space; a lone one stays.
//                                     \s of a str pattern = str.isspace(): \t \n \v \f \r \x1c-\x1f space \x85 \xa0 \u1680
//                                     \u2000-\u200a \u2028 \u2029 \u202f \u205f \u3000 (not JS's \s: it lacks \x1c-\x1f and \x85)
//   rstrip("\n"), strip(" ")          only line feeds at the end, then only spaces at both ends
//   split(" ")[:max_words]            max_words = 50
const PY_WS = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';
export function cleanCaption(text, maxWords = 50) {
  let s = text.toLowerCase().replace(/[.!"()*#:;~]/g, ' ');
  s = s.replace(new RegExp(`[${PY_WS}]{2,}`, 'g'), ' ');
  s = s.replace(/\n+$/, '').replace(/^ +| +$/g, '');
  const words = s.split(' ');
  return words.length > maxWords ? words.slice(0, maxWords).join(' ') : s;
}

// Truncate to MAX_LENGTH keeping [SEP] last, then pad with [PAD]: what BLIP gets from
// tokenizer(text, padding='max_length', truncation=True, max_length=35).
function blipIds(ids) {
  let out = ids.length > MAX_LENGTH ? [...ids.slice(0, MAX_LENGTH - 1), SEP] : [...ids];
  while (out.length < MAX_LENGTH) out.push(PAD);
  return out;
}

const S = [];
const add = (...xs) => S.push(...xs);

// Ordinary captions (MSR-VTT / MSVD style).
add(
  'a man is playing a guitar on stage.',
  'A woman is slicing an onion in the kitchen',
  'two dogs run across a snowy field',
  'A group of people are dancing at a wedding party.',
  'a cartoon character is talking to another character',
  'someone is cooking pasta in a large pot',
  'the news anchor reports on the weather forecast',
  'a boy rides his bicycle down the hill',
  'people are swimming in the ocean at sunset',
  'a chef demonstrates how to make sushi',
  'A cat is sitting on a laptop keyboard.',
  'a basketball player dunks the ball',
  'a red car drives along a winding mountain road',
  'an old man is reading a newspaper on a bench',
  'children are playing soccer in the park',
  'Someone is explaining how to fix a leaking faucet.',
  'a girl is singing into a microphone while playing piano',
  'the crowd cheers as the team scores a goal',
  'a video game character jumps over obstacles',
  'a woman applies makeup in front of a mirror',
  'scenes from a movie trailer with explosions and car chases',
  'a man in a suit gives a presentation about climate change',
  'a baby laughs at a dog',
  'a person is folding paper to make an origami crane',
  'Rain falls on a busy city street at night',
  'The quick brown fox jumps over the lazy dog',
  'unaffable unbelievably antidisestablishmentarianism tokenization',
  'a man is doing push-ups; then he runs.',
  "a woman's hands knead dough",
  "it's a beautiful day, isn't it?",
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit.',
  'WHAT IS THE MAN HOLDING IN HIS HAND',
  'MiXeD CaSe CaPtIoN wItH sHoUtInG',
  'a  man   with    many     spaces',
  '  leading and trailing spaces  ',
  'x',
  'a',
  '.',
  'i',
  '0',
);

// Punctuation of every kind, alone and attached.
add(
  'Hello, world! How are you? I\'m fine... (really) "quoted" [bracketed] {braced}',
  '.!"()*#:;~',
  'a.b!c"d(e)f*g#h:i;j~k',
  '... !!! ??? ;;; ::: ~~~ ***',
  'dash-separated en–dash em—dash and minus − sign',
  "apostrophes: don't, won't, o'clock, rock 'n' roll",
  '‘curly single’ “curly double” «guillemets» ‹single›',
  '¿Qué pasa? ¡Nada!',
  'ellipsis… and bullets • and middle dot ·',
  '§1 ¶2 † ‡ ※ ‰ ′ ″',
  'comma,no,space;semicolon:colon',
  'question?exclamation!period.end',
  '「かぎかっこ」『二重』【隅付き】〈山〉《二重山》',
  '，。、！？：；',
);

// Symbols.
add(
  '$ = < > ~ ^ | @ % & + * / \\ ` _ { } [ ]',
  'price: $100, €50, £30, ¥1000, ₹500, ₩2000, ₿0.5',
  'a=b<c>d~e^f|g@h%i&j+k*l/m\\n`o_p{q}r[s]t',
  'x^2 + y^2 = z^2 and a<=b>=c != d == e',
  '100% of 50% is 50%',
  'snake_case_variable and kebab-case-name and CamelCaseName',
  'path/to/file.txt and C:\\Windows\\System32',
  '© 2024 ® ™ ° ± × ÷ µ ¬ ¦ ¤',
  'math: ∑ ∏ ∫ √ ∞ ≈ ≠ ≤ ≥ ∂ ∇ ∈ ∉ ⊂ ⊃ ∪ ∩',
  'arrows → ← ↑ ↓ ↔ ⇒ ⇔ and shapes ■ □ ▲ △ ● ○ ★ ☆',
  'music ♪ ♫ ♩ ♬ and cards ♠ ♣ ♥ ♦',
  'fractions ½ ¼ ¾ ⅓ and superscripts ² ³ ¹ and subscripts ₀ ₁ ₂',
  'roman numerals Ⅰ Ⅱ Ⅲ Ⅳ ⅻ',
  'box drawing ─│┌┐└┘├┤┬┴┼',
  'fullwidth ＡＢＣ ａｂｃ １２３ ！＠＃',
  'ligatures ﬁ ﬂ ﬀ ﬃ and ǅ ǈ ǋ',
  '@user mentioned #hashtag and $TICKER',
);

// Accents and diacritics.
add(
  'café résumé naïve façade fiancée déjà vu',
  'El niño come jalapeños en España',
  'Über Müller größer Straße Köln',
  'Ångström Åland Øresund Ærø',
  'crème brûlée à la carte',
  'São Paulo, Curaçao, Zürich, Kraków, Łódź',
  'Dvořák Škoda Čapek Ţară Şişli',
  'Ελληνικά with tónos: άέήίόύώ ΐ ΰ',
  'combining marks: e\u0301 n\u0303 u\u0308 a\u030A o\u0302\u0323',
  'stacked: Z\u0351\u036B\u0343\u036A\u0302\u036B\u033D\u034F\u0334\u0319\u0324\u031E\u0349\u035A\u032F\u031E\u0320\u034DA\u036B\u0357\u0334\u0362\u0335\u031C\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030E\u0305\u035B\u0341\u0334\u033B\u0348\u034D\u0354\u0339O\u0342\u030C\u030C\u0358\u0328\u0335\u0339\u033B\u031D\u0333',
  'NFC é vs NFD e\u0301 should be the same',
  'Vietnamese: Tiếng Việt có dấu, Phở bò, Hà Nội',
  'İstanbul and ıstanbul, TİTANİK',
  'Ǆemal ǅemal ǆemal',
  'ﬁnancial ﬂow',
  'Å (U+212B angstrom sign) vs Å (U+00C5)',
  'ÀÁÂÃÄÅ àáâãäå ÈÉÊË ÌÍÎÏ ÒÓÔÕÖ ÙÚÛÜ Ýÿ Ç ç Ñ ñ',
  'ḁḃḉḋḕḟḡḣḭḯ ẞ ß',
);

// CJK.
add(
  '一个男人在弹吉他',
  '两只狗在雪地里奔跑。',
  '这是一个测试，包含中文标点！',
  '繁體中文：我們在公園裡散步',
  'mixed 中文 and English 混合 text',
  '日本語のテキスト：ひらがな、カタカナ、漢字',
  'すしを食べています',
  'カラオケでうたう',
  'ｶﾀｶﾅ half-width katakana ﾃｽﾄ',
  '한국어 문장입니다. 남자가 기타를 치고 있다',
  '안녕하세요 세계',
  'CJK extension B: 𠀀𠀁𠀂 and compatibility 丽丸乁',
  'CJK radicals ⺀⺁ and strokes ㇀㇁',
  '漢字かなまじり文 with ascii123',
  '我爱北京天安门',
  'ー〜〒〓〇',
);

// Emoji.
add(
  'a dog 🐶 and a cat 🐱',
  'family 👨‍👩‍👧‍👦 ZWJ sequence',
  'thumbs up 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 skin tones',
  'flags 🇺🇸 🇯🇵 🇬🇧 and rainbow flag 🏳️‍🌈',
  'heart ❤️ with variation selector and ❤ without',
  'keycap 1️⃣ #️⃣ *️⃣',
  '😀😃😄😁😆😅🤣😂 many faces',
  'woman technologist 👩‍💻 and man cook 👨‍🍳',
  'emoji🎉attached🎊to😊words',
  '🙂',
  'old symbols ☺ ☹ ☀ ☁ ☂ ✈ ✉ ✌',
);

// Other scripts.
add(
  'مرحبا بالعالم، هذا نص عربي',
  'رجل يعزف على الغيتار',
  'Arabic with harakat: مُحَمَّدٌ',
  'שלום עולם, זה טקסט בעברית',
  'Hebrew with niqqud: בְּרֵאשִׁית',
  'Привет, мир! Это русский текст.',
  'Мужчина играет на гитаре',
  'Ёлка и ЁЖИК, ї є ґ',
  'Γεια σου κόσμε, ΟΔΟΣ ΣΟΦΙΑΣ',
  'ΣΊΣΥΦΟΣ and σίσυφος',
  'สวัสดีชาวโลก ภาษาไทย',
  'नमस्ते दुनिया, यह हिंदी पाठ है',
  'বাংলা লেখা',
  'தமிழ் உரை',
  'ქართული ტექსტი',
  'Հայերեն տեքստ',
  'ትግርኛ አማርኛ',
  'ᚠᚢᚦᚨᚱᚲ runes',
  'Ⲙⲁⲣⲓⲁ coptic',
  'mixed: hello Привет 你好 مرحبا שלום नमस्ते',
);

// Whitespace and invisible / control characters.
add(
  'tab\tseparated\twords',
  'new\nline\nseparated',
  'windows\r\nline\r\nendings',
  'old mac\rline endings',
  'non\u00A0breaking\u00A0spaces',
  'narrow\u202Fnbsp and figure\u2007space and ideographic\u3000space',
  'em\u2003space en\u2002space thin\u2009space hair\u200Aspace',
  'zero\u200Bwidth\u200Bspace',
  'zero\u200Cwidth\u200Dnon-joiner and joiner',
  'word\u2060joiner and soft\u00ADhyphen',
  'byte\uFEFForder mark',
  '\uFEFFleading BOM',
  'line\u2028separator and paragraph\u2029separator',
  'next\u0085line char',
  'vertical\u000Btab and form\u000Cfeed',
  'control\u0001chars\u0002and\u001Fmore\u007F',
  'bell\u0007 backspace\u0008 escape\u001B[0m',
  'null\u0000char',
  'replacement \uFFFD char',
  'private use \uE000\uF8FF',
  'left-to-right\u200E mark and right-to-left\u200F mark',
  'bidi \u202Aembedding\u202C and \u202Eoverride\u202C',
  'variation selector a\uFE0F and tag \u{E0041}',
  'ogham\u1680space mark',
  'mongolian\u180Evowel separator',
  'unit\u001Fseparator and record\u001Eseparator',
  '\t\n\r ',
  '   ',
  '\u00A0\u3000\u2003',
  '\u200B\u200B',
  '',
);

// Numbers.
add(
  '1,000.50',
  '3.14e-10',
  'call 555-123-4567 or +1 (800) 555-0199',
  'on 2024-01-15 at 10:30:45 and 01/15/2024 and 15.01.2024',
  'the year 1999 and the 1990s and 21st century',
  '0.5 .5 5. 1e6 1E+6 0x1F 0b1010 0o17',
  '123456789012345678901234567890',
  'version 1.2.3-beta+build.456',
  'ip 192.168.0.1 and port :8080',
  '-42 +42 ±42 42° 42nd 4th',
  'Arabic-Indic digits ٠١٢٣٤٥٦٧٨٩ and Devanagari ०१२३',
  'fullwidth digits ０１２３４５',
  'circled ① ② ③ and parenthesized ⑴ ⑵',
  'time 12:00pm, 3:45 a.m., 23h59',
  '$1,234,567.89 and €1.234.567,89',
  'score 3-2 after 90+3 minutes',
);

// Long words and long text.
const alpha = 'abcdefghijklmnopqrstuvwxyz';
add(
  'a'.repeat(99),
  'a'.repeat(100),
  'a'.repeat(101),
  alpha.repeat(4) + ' word after a 104-char word',
  'x' + 'ab'.repeat(120) + ' and more',
  'supercalifragilisticexpialidocious'.repeat(6),
  'é'.repeat(101),
  'e\u0301'.repeat(60),
  '中'.repeat(150),
  'the ' + 'na'.repeat(51) + ' batman',
  '1234567890'.repeat(11),
  'aaaa-'.repeat(30),
  'Pneumonoultramicroscopicsilicovolcanoconiosis Hippopotomonstrosesquippedaliophobia',
  alpha.repeat(8) + alpha.toUpperCase().repeat(2),
);
const words = 'the quick brown fox jumps over the lazy dog while a man plays guitar and a woman sings on stage'.split(' ');
let longText = [];
for (let i = 0; i < 400; i++) longText.push(words[(i * 7) % words.length]);
add(
  longText.join(' '),
  longText.slice(0, 60).join(', ') + '.',
  Array.from({ length: 300 }, (_, i) => `word${i}`).join(' '),
  Array.from({ length: 40 }, () => 'a man is walking.').join(' '),
  'a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h',
  'a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f',
  'a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g',
);

// Literal special-token text.
add(
  '[CLS]',
  '[SEP]',
  '[ENC]',
  '[DEC]',
  '[MASK]',
  '[PAD]',
  '[UNK]',
  '[CLS] a man is walking [SEP]',
  'text with [MASK] in the middle',
  '[ENC] grounded [DEC] decoder',
  'glued[CLS]to[SEP]words',
  '[cls] [sep] [enc] [dec] [mask] lower-case',
  '[ CLS ] [CLS ] [Cls]',
  '[[CLS]] [[SEP]]',
  '<s> </s> <pad> <unk> <mask> <|endoftext|>',
  '##suffix and ## and ##',
);

// URLs, emails, hashtags, code.
add(
  'https://www.example.com/path/to/page?query=1&b=2#anchor',
  'visit http://example.org or www.test.co.uk/index.html',
  'ftp://files.example.com/pub/file.tar.gz',
  'email me at john.doe+filter@example.com or info@münchen.de',
  '#MachineLearning #AI #100DaysOfCode #日本',
  '@openai @user_name mention',
  'const x = arr.map((v) => v * 2); // comment',
  'if (a && b || !c) { return; }',
  '<div class="video">Hello</div>',
  '{"key": "value", "n": [1, 2, 3]}',
  'SELECT * FROM videos WHERE id = 42;',
  'markdown **bold** _italic_ `code` ~~strike~~',
  'file_name_v2.final.mp4',
  'https://youtu.be/dQw4w9WgXcQ?t=42',
);

// Mixed, realistic queries.
add(
  'Where is the man in the red shirt?!',
  'show me videos of "cats" (not dogs) :)',
  'Find: a woman; running; at night ~ in rain',
  'cooking video *recipe* #food',
  'a man talks about the 2020 U.S. election',
  'Mr. Smith & Mrs. Jones vs. Dr. Who',
  'e.g. i.e. etc. a.k.a. U.S.A.',
  "rock'n'roll & R&B",
  'lol :-) ;-) :D xD <3 ^_^ T_T',
  'Hmm... well — maybe?',
  'CAPS LOCK AND 123 NUMBERS!!!',
  'tokyo 東京 tower at night 🌃',
  'naïve café owner 👨‍🍳 cooks crème brûlée',
  'résumé: 5 yrs @ Google, 3 yrs @ Meta',
  'The Beatles — "Hey Jude" (1968)',
  '“smart quotes” and ‘single smart quotes’',
  'temperature is -5°C / 23°F',
  'a 3D printer prints a 10cm cube',
  'the MP4 file is 1.5GB',
  'Ĳssel ĳs and Œuvre œuf',
  'ŊŋŦŧĦħ',
  'ﷺ ﷽ arabic ligatures',
  'ｈｅｌｌｏ ｗｏｒｌｄ',
  'ÆØÅ æøå',
  'Σ',
  'ΣΑ Σ. ΑΣ. ΑΣΑ',
  'a woman (in a red dress) walks; a man (in blue) follows.',
);

async function main() {
  const tok = await buildTokenizer();
  const version = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@anush008/tokenizers/package.json'), 'utf8')).version;
  const seen = new Set();
  const lines = [];
  for (const text of S) {
    if (seen.has(text)) throw new Error(`duplicate sentence: ${JSON.stringify(text)}`);
    seen.add(text);
    const ids = (await tok.encode(text)).getIds();
    const cleaned = cleanCaption(text);
    const cleanedIds = blipIds((await tok.encode(cleaned)).getIds());
    if (ids[0] !== CLS || ids[ids.length - 1] !== SEP) throw new Error(`no CLS/SEP for ${JSON.stringify(text)}`);
    lines.push(JSON.stringify({ text, cleaned, ids, cleaned_ids: cleanedIds }));
  }
  const header = {
    generator: 'generate.mjs',
    tokenizers_node: `@anush008/tokenizers ${version} (Hugging Face tokenizers 0.22.2)`,
    vocab_sha256: createHash('sha256').update(vocabText).digest('hex'),
    max_length: MAX_LENGTH,
    count: lines.length,
  };
  const out = '{\n"meta": ' + JSON.stringify(header) + ',\n"cases": [\n' + lines.join(',\n') + '\n]\n}\n';
  writeFileSync(join(here, 'expected.json'), out, 'utf8');
  console.log(`wrote ${lines.length} cases to expected.json`);
}

await main();
