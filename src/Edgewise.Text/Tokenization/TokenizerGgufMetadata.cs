using Edgewise.Core.Formats.Gguf;

namespace Edgewise.Text.Tokenization;

/// <summary>
/// The <c>tokenizer.ggml.*</c> GGUF metadata of a vocabulary, in both directions. A tokenizer with ranked merges is
/// written as model <c>gemma4</c> (explicit <c>tokenizer.ggml.merges</c>, lossless for a tokenizer.json); one in
/// score mode as <c>llama</c> (SentencePiece scores).
/// </summary>
public sealed record TokenizerGgufMetadata(
    string Model,
    string[] Tokens,
    float[] Scores,
    int[] TokenTypes,
    string[]? Merges,
    TokenizerSpecialIds SpecialIds,
    bool AddBos,
    string? ChatTemplate)
{
    public const string ModelKey = "tokenizer.ggml.model";
    public const string TokensKey = "tokenizer.ggml.tokens";
    public const string ScoresKey = "tokenizer.ggml.scores";
    public const string TokenTypeKey = "tokenizer.ggml.token_type";
    public const string MergesKey = "tokenizer.ggml.merges";
    public const string BosKey = "tokenizer.ggml.bos_token_id";
    public const string EosKey = "tokenizer.ggml.eos_token_id";
    public const string PadKey = "tokenizer.ggml.padding_token_id";
    public const string UnknownKey = "tokenizer.ggml.unknown_token_id";
    public const string AddBosKey = "tokenizer.ggml.add_bos_token";
    public const string AddSpacePrefixKey = "tokenizer.ggml.add_space_prefix";
    public const string ChatTemplateKey = "tokenizer.chat_template";

    /// <summary>The metadata that reproduces <paramref name="tokenizer"/> when read back with <see cref="Read"/>.</summary>
    /// <param name="tokenizer">The vocabulary to write.</param>
    /// <param name="chatTemplate">Overrides the tokenizer's own chat template.</param>
    /// <param name="model">
    /// Null: <c>gemma4</c> for ranked merges, <c>llama</c> for score mode. <c>"llama"</c> forces SentencePiece score
    /// mode (what llama.cpp writes for Gemma 3 / 3n): scores only, no merge list. For a tokenizer.json vocabulary the
    /// merge-derived scores reproduce the ranked-merge ids on the whole golden corpus (tested).
    /// </param>
    public static TokenizerGgufMetadata From(GemmaTokenizer tokenizer, string? chatTemplate = null, string? model = null)
    {
        if (model is not (null or "llama" or "gemma4"))
            throw new ArgumentOutOfRangeException(nameof(model), model, "expected \"llama\" or \"gemma4\"");
        if (model == "gemma4" && tokenizer.MergeMode != TokenizerMergeMode.RankedMerges)
            throw new ArgumentException("a score-mode tokenizer has no merge list to write as model gemma4", nameof(model));
        int n = tokenizer.VocabularySize;
        var tokens = new string[n];
        var scores = new float[n];
        var types = new int[n];
        for (int id = 0; id < n; id++)
        {
            tokens[id] = tokenizer.TokenPiece(id);
            scores[id] = tokenizer.Score(id);
            types[id] = (int)tokenizer.GetTokenType(id);
        }
        string[]? merges = null;
        if (tokenizer.MergeMode == TokenizerMergeMode.RankedMerges && model != "llama")
        {
            merges = new string[tokenizer.MergeCount];
            for (int rank = 0; rank < merges.Length; rank++)
            {
                (int left, int right) = tokenizer.GetMerge(rank);
                merges[rank] = tokens[left] + " " + tokens[right];
            }
        }
        return new TokenizerGgufMetadata(merges is null ? "llama" : "gemma4", tokens, scores, types, merges,
            tokenizer.SpecialIds, AddBos: true, chatTemplate ?? tokenizer.ChatTemplate);
    }

    /// <summary>Adds every key to a GGUF being written.</summary>
    public void WriteTo(GgufWriter writer)
    {
        writer.AddString(ModelKey, Model);
        writer.AddStringArray(TokensKey, Tokens);
        writer.AddArray<float>(ScoresKey, Scores);
        writer.AddArray<int>(TokenTypeKey, TokenTypes);
        if (Merges is not null)
            writer.AddStringArray(MergesKey, Merges);
        AddId(writer, BosKey, SpecialIds.Bos);
        AddId(writer, EosKey, SpecialIds.Eos);
        AddId(writer, PadKey, SpecialIds.Pad);
        AddId(writer, UnknownKey, SpecialIds.Unknown);
        writer.AddBool(AddBosKey, AddBos);
        writer.AddBool(AddSpacePrefixKey, false);
        if (ChatTemplate is not null)
            writer.AddString(ChatTemplateKey, ChatTemplate);
    }

    private static void AddId(GgufWriter writer, string key, int id)
    {
        if (id >= 0)
            writer.AddUInt32(key, (uint)id);
    }

    /// <summary>Builds a tokenizer from a GGUF's <c>tokenizer.ggml.*</c> keys.</summary>
    public static GemmaTokenizer Read(GgufFile gguf)
    {
        string source = gguf.FilePath;
        if (!gguf.TryGetValue(ModelKey, out GgufValue? modelValue))
            throw new TokenizerFormatException(source, ModelKey, "\"llama\" or \"gemma4\"", "no such key");
        string model = modelValue.AsString();
        if (model is not ("llama" or "gemma4"))
            throw new TokenizerFormatException(source, ModelKey, "\"llama\" (SentencePiece scores) or \"gemma4\" (ranked merges)", $"\"{model}\"");
        if (gguf.GetBoolOrDefault(AddSpacePrefixKey, false))
            throw new TokenizerFormatException(source, AddSpacePrefixKey, "false (Gemma has no dummy prefix)", "true");

        string[] tokens = gguf.GetStringArray(TokensKey);
        float[] scores = gguf.ContainsKey(ScoresKey) ? gguf.GetArray<float>(ScoresKey) : [];
        TokenType[] types = [];
        if (gguf.ContainsKey(TokenTypeKey))
        {
            int[] raw = gguf.GetArray<int>(TokenTypeKey);
            types = new TokenType[raw.Length];
            for (int i = 0; i < raw.Length; i++)
            {
                if (raw[i] is < 0 or > (int)TokenType.Byte)
                    throw new TokenizerFormatException(source, $"{TokenTypeKey}[{i}]", "0..6", raw[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
                types[i] = (TokenType)raw[i];
            }
        }

        List<(string, string)>? merges = null;
        if (model == "gemma4")
        {
            if (!gguf.ContainsKey(MergesKey))
                throw new TokenizerFormatException(source, MergesKey, "a merge list for model gemma4", "no such key");
            string[] raw = gguf.GetStringArray(MergesKey);
            merges = new List<(string, string)>(raw.Length);
            for (int rank = 0; rank < raw.Length; rank++)
            {
                // Pieces never contain a plain space (spaces are ▁), so the first space after index 0 separates them,
                // as in llama.cpp's merge parsing.
                int space = raw[rank].Length > 1 ? raw[rank].IndexOf(' ', 1) : -1;
                if (space < 0)
                    throw new TokenizerFormatException(source, $"{MergesKey}[{rank}]", "\"left right\"", $"\"{raw[rank]}\"");
                merges.Add((raw[rank][..space], raw[rank][(space + 1)..]));
            }
        }
        else if (scores.Length == 0)
        {
            throw new TokenizerFormatException(source, ScoresKey, "piece scores for model llama", "no such key");
        }

        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
            named.TryAdd(tokens[id], id);
        TokenizerSpecialIds fallback = TokenizerSpecialIds.FromPieceNames(named);
        var ids = new TokenizerSpecialIds(
            OptionalId(gguf, BosKey, fallback.Bos, tokens.Length),
            OptionalId(gguf, EosKey, fallback.Eos, tokens.Length),
            OptionalId(gguf, PadKey, fallback.Pad, tokens.Length),
            OptionalId(gguf, UnknownKey, fallback.Unknown, tokens.Length));
        return GemmaTokenizer.FromVocabulary(tokens, scores, types, merges, ids, gguf.GetStringOrDefault(ChatTemplateKey), source);
    }

    private static int OptionalId(GgufFile gguf, string key, int fallback, int vocabularySize)
    {
        if (!gguf.ContainsKey(key))
            return fallback;
        uint id = gguf.GetUInt32(key);
        if (id >= vocabularySize)
            throw new TokenizerFormatException(gguf.FilePath, key, $"an id below {vocabularySize}", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return (int)id;
    }
}
