using System.Text.Json;

namespace LiteVL.Model.Text;

/// <summary>
/// Writes a Hugging Face <c>tokenizer.json</c> equal to what <c>BertTokenizerFast.from_pretrained("bert-base-uncased")</c>
/// plus BLIP's <c>add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})</c> saves:
/// BertNormalizer (clean text, Chinese chars, strip accents = lowercase, lowercase), BertPreTokenizer,
/// WordPiece (unk [UNK], "##", 100 chars a word), [CLS] A [SEP] template, and the special tokens as added tokens
/// (matched on the raw text, before normalisation, so a literal "[CLS]" encodes to 101 as in Hugging Face).
/// </summary>
internal static class HfTokenizerJson
{
    internal static byte[] Build(IReadOnlyList<string> vocab)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");

            w.WriteStartArray("added_tokens");
            foreach (var (id, content) in new[]
            {
                (BlipTokenizer.PadId, "[PAD]"), (BlipTokenizer.UnkId, "[UNK]"), (BlipTokenizer.ClsId, "[CLS]"),
                (BlipTokenizer.SepId, "[SEP]"), (BlipTokenizer.MaskId, "[MASK]"), (BlipTokenizer.DecId, "[DEC]"),
                (BlipTokenizer.EncId, "[ENC]"),
            })
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", content);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }

            w.WriteEndArray();

            w.WriteStartObject("normalizer");
            w.WriteString("type", "BertNormalizer");
            w.WriteBoolean("clean_text", true);
            w.WriteBoolean("handle_chinese_chars", true);
            w.WriteNull("strip_accents"); // null = follow lowercase, as in bert-base-uncased
            w.WriteBoolean("lowercase", true);
            w.WriteEndObject();

            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "BertPreTokenizer");
            w.WriteEndObject();

            w.WriteStartObject("post_processor");
            w.WriteString("type", "TemplateProcessing");
            w.WriteStartArray("single");
            WritePiece(w, "SpecialToken", "[CLS]", 0);
            WritePiece(w, "Sequence", "A", 0);
            WritePiece(w, "SpecialToken", "[SEP]", 0);
            w.WriteEndArray();
            w.WriteStartArray("pair");
            WritePiece(w, "SpecialToken", "[CLS]", 0);
            WritePiece(w, "Sequence", "A", 0);
            WritePiece(w, "SpecialToken", "[SEP]", 0);
            WritePiece(w, "Sequence", "B", 1);
            WritePiece(w, "SpecialToken", "[SEP]", 1);
            w.WriteEndArray();
            w.WriteStartObject("special_tokens");
            WriteSpecial(w, "[CLS]", BlipTokenizer.ClsId);
            WriteSpecial(w, "[SEP]", BlipTokenizer.SepId);
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartObject("decoder");
            w.WriteString("type", "WordPiece");
            w.WriteString("prefix", "##");
            w.WriteBoolean("cleanup", true);
            w.WriteEndObject();

            w.WriteStartObject("model");
            w.WriteString("type", "WordPiece");
            w.WriteString("unk_token", "[UNK]");
            w.WriteString("continuing_subword_prefix", "##");
            w.WriteNumber("max_input_chars_per_word", 100);
            w.WriteStartObject("vocab");
            // The WordPiece model holds bert-base-uncased; [DEC]/[ENC] exist only as added tokens, as in Hugging Face.
            for (var i = 0; i < BertVocabulary.BaseUncasedSize; i++)
            {
                w.WriteNumber(vocab[i], i);
            }

            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WritePiece(Utf8JsonWriter w, string kind, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject(kind);
        w.WriteString("id", id);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSpecial(Utf8JsonWriter w, string token, int id)
    {
        w.WriteStartObject(token);
        w.WriteString("id", token);
        w.WriteStartArray("ids");
        w.WriteNumberValue(id);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(token);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
