using System.Text.Json;

namespace Edgewise.Text.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> of the shape Gemma ships: model BPE with <c>byte_fallback</c> and a
/// ranked merge list, normalizer Replace(" " → "▁"), pre-tokenizer absent or Split(" ") (a no-op once spaces are
/// ▁), and <c>added_tokens</c> (all matched atomically; <c>special</c> ones become Control). Anything else is
/// rejected with the JSON path that differs rather than tokenized differently from the reference.
/// </summary>
internal static class HfTokenizerJson
{
    public static GemmaTokenizer Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"tokenizer.json not found: {path}", path);
        using FileStream stream = File.OpenRead(path);
        using JsonDocument document = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        return Parse(document.RootElement, path);
    }

    public static GemmaTokenizer Parse(JsonElement root, string source)
    {
        JsonElement model = Required(root, "model", source);
        Expect(source, "model.type", model, "type", "BPE");
        if (model.TryGetProperty("byte_fallback", out JsonElement fallback) && fallback.ValueKind == JsonValueKind.False)
            throw new TokenizerFormatException(source, "model.byte_fallback", "true", "false");
        if (model.TryGetProperty("ignore_merges", out JsonElement ignore) && ignore.ValueKind == JsonValueKind.True)
            throw new TokenizerFormatException(source, "model.ignore_merges", "false", "true");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
                throw new TokenizerFormatException(source, $"model.{affix}", "null", value.GetString()!);
        }
        CheckNormalizer(root, source);
        CheckPreTokenizer(root, source);

        // Pieces by id: the model vocab, then added tokens (which may extend past it, e.g. <image_soft_token>).
        var byId = new Dictionary<int, string>();
        foreach (JsonProperty entry in Required(model, "vocab", source).EnumerateObject())
            byId[entry.Value.GetInt32()] = entry.Name;

        var added = new List<(int Id, string Content, bool Special)>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            int index = 0;
            foreach (JsonElement token in addedTokens.EnumerateArray())
            {
                int id = Required(token, "id", source).GetInt32();
                string content = Required(token, "content", source).GetString()!;
                foreach (string flag in new[] { "lstrip", "rstrip", "single_word", "normalized" })
                {
                    if (token.TryGetProperty(flag, out JsonElement v) && v.ValueKind == JsonValueKind.True)
                        throw new TokenizerFormatException(source, $"added_tokens[{index}].{flag}", "false (not supported)", "true");
                }
                bool special = token.TryGetProperty("special", out JsonElement s) && s.ValueKind == JsonValueKind.True;
                byId[id] = content;
                added.Add((id, content, special));
                index++;
            }
        }

        int count = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        var pieces = new string[count];
        for (int id = 0; id < count; id++)
        {
            if (!byId.TryGetValue(id, out string? piece))
                throw new TokenizerFormatException(source, "model.vocab", $"contiguous ids 0..{count - 1}", $"no piece with id {id}");
            pieces[id] = piece;
        }

        string? unkPiece = model.TryGetProperty("unk_token", out JsonElement unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null;
        var types = new TokenType[count];
        for (int id = 0; id < count; id++)
            types[id] = GemmaTokenizer.TryParseBytePiece(pieces[id], out _) ? TokenType.Byte : TokenType.Normal;
        foreach ((int id, string content, bool special) in added)
            types[id] = content == unkPiece ? TokenType.Unknown : special ? TokenType.Control : TokenType.UserDefined;

        var merges = new List<(string, string)>();
        int rank = 0;
        foreach (JsonElement merge in Required(model, "merges", source).EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            {
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.IndexOf(' ', 1) is int space and > 0)
            {
                string text = merge.GetString()!;
                merges.Add((text[..space], text[(space + 1)..]));
            }
            else
            {
                throw new TokenizerFormatException(source, $"model.merges[{rank}]", "[left, right] or \"left right\"", merge.GetRawText());
            }
            rank++;
        }

        var pieceToId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < count; id++)
            pieceToId.TryAdd(pieces[id], id);
        TokenizerSpecialIds named = TokenizerSpecialIds.FromPieceNames(pieceToId);
        if (unkPiece is not null && pieceToId.TryGetValue(unkPiece, out int unkId))
            named = named with { Unknown = unkId };

        float[] scores = DeriveScores(pieces, pieceToId, merges);
        return GemmaTokenizer.FromVocabulary(pieces, scores, types, merges, named, chatTemplate: null, source);
    }

    /// <summary>
    /// tokenizer.json carries no SentencePiece scores. These are derived from merge ranks (a piece made by merge r
    /// scores -(r + 1); pieces no merge makes score below every merged piece) so the GGUF <c>scores</c> array is
    /// meaningful; ranked-merge tokenization does not read them.
    /// </summary>
    private static float[] DeriveScores(string[] pieces, Dictionary<string, int> pieceToId, List<(string Left, string Right)> merges)
    {
        var scores = new float[pieces.Length];
        Array.Fill(scores, float.NaN);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            if (pieceToId.TryGetValue(merges[rank].Left + merges[rank].Right, out int id) && float.IsNaN(scores[id]))
                scores[id] = -(rank + 1);
        }
        float floor = -(merges.Count + 1);
        for (int id = 0; id < scores.Length; id++)
        {
            if (float.IsNaN(scores[id]))
                scores[id] = floor;
        }
        return scores;
    }

    private static void CheckNormalizer(JsonElement root, string source)
    {
        if (!root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind == JsonValueKind.Null)
            throw new TokenizerFormatException(source, "normalizer", "Replace(\" \" -> \"▁\")", "null");
        Expect(source, "normalizer.type", normalizer, "type", "Replace");
        string? pattern = normalizer.TryGetProperty("pattern", out JsonElement p) && p.TryGetProperty("String", out JsonElement ps) ? ps.GetString() : null;
        string? content = normalizer.TryGetProperty("content", out JsonElement c) ? c.GetString() : null;
        if (pattern != " " || content != "\u2581")
            throw new TokenizerFormatException(source, "normalizer", "Replace(\" \" -> \"▁\")", normalizer.GetRawText());
    }

    private static void CheckPreTokenizer(JsonElement root, string source)
    {
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || pre.ValueKind == JsonValueKind.Null)
            return;
        Expect(source, "pre_tokenizer.type", pre, "type", "Split");
        string? pattern = pre.TryGetProperty("pattern", out JsonElement p) && p.TryGetProperty("String", out JsonElement ps) ? ps.GetString() : null;
        bool invert = pre.TryGetProperty("invert", out JsonElement inv) && inv.ValueKind == JsonValueKind.True;
        // Splitting on a plain space after the normalizer removed every space is a no-op; anything else is not.
        if (pattern != " " || invert)
            throw new TokenizerFormatException(source, "pre_tokenizer", "Split on String \" \" (no-op after normalization)", pre.GetRawText());
    }

    private static JsonElement Required(JsonElement parent, string name, string source)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value))
            throw new TokenizerFormatException(source, name, "a property", "none");
        return value;
    }

    private static void Expect(string source, string field, JsonElement parent, string name, string expected)
    {
        string? found = parent.TryGetProperty(name, out JsonElement v) ? v.ToString() : null;
        if (found != expected)
            throw new TokenizerFormatException(source, field, expected, found ?? "none");
    }
}
