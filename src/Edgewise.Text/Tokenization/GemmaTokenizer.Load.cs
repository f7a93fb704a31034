using Edgewise.Core.Formats.Gguf;

namespace Edgewise.Text.Tokenization;

public sealed partial class GemmaTokenizer
{
    /// <summary>
    /// Builds a tokenizer from plain arrays (what GGUF metadata holds). <paramref name="merges"/> given: ranked BPE
    /// (HF / GGUF <c>gemma4</c>); null: SentencePiece merge-by-score (GGUF <c>llama</c>). Empty
    /// <paramref name="scores"/> means all zero; empty <paramref name="types"/> means Normal, with <c>&lt;0xNN&gt;</c>
    /// pieces as Byte. Control, user-defined and unknown pieces are matched atomically before BPE.
    /// </summary>
    public static GemmaTokenizer FromVocabulary(IReadOnlyList<string> pieces, ReadOnlySpan<float> scores, ReadOnlySpan<TokenType> types,
        IReadOnlyList<(string Left, string Right)>? merges, TokenizerSpecialIds? specialIds = null, string? chatTemplate = null,
        string source = "<vocabulary>")
    {
        int n = pieces.Count;
        if (n == 0)
            throw new TokenizerFormatException(source, "tokens", "at least one piece", "an empty list");
        if (!scores.IsEmpty && scores.Length != n)
            throw new TokenizerFormatException(source, "scores", $"{n} entries (one per piece)", $"{scores.Length}");
        if (!types.IsEmpty && types.Length != n)
            throw new TokenizerFormatException(source, "token_type", $"{n} entries (one per piece)", $"{types.Length}");

        var pieceArray = new string[n];
        var pieceToId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        var typeArray = new TokenType[n];
        for (int id = 0; id < n; id++)
        {
            string piece = pieces[id] ?? throw new TokenizerFormatException(source, $"tokens[{id}]", "a string", "null");
            pieceArray[id] = piece;
            pieceToId.TryAdd(piece, id); // first id wins for a duplicated piece, like llama.cpp's token_to_id
            typeArray[id] = !types.IsEmpty ? types[id] : TryParseBytePiece(piece, out _) ? TokenType.Byte : TokenType.Normal;
        }

        (int, int)[]? mergeIds = null;
        if (merges is not null)
        {
            mergeIds = new (int, int)[merges.Count];
            for (int rank = 0; rank < merges.Count; rank++)
            {
                (string left, string right) = merges[rank];
                if (!pieceToId.TryGetValue(left, out int l) || !pieceToId.TryGetValue(right, out int r))
                    throw new TokenizerFormatException(source, $"merges[{rank}]", "two vocabulary pieces", $"'{left}' '{right}'");
                mergeIds[rank] = (l, r);
            }
        }
        return new GemmaTokenizer(pieceArray, scores.IsEmpty ? new float[n] : scores.ToArray(), typeArray, pieceToId, mergeIds,
            specialIds ?? TokenizerSpecialIds.FromPieceNames(pieceToId), chatTemplate, source);
    }

    /// <summary>Loads a GGUF file's or a Hugging Face <c>tokenizer.json</c>'s vocabulary, by file extension.</summary>
    public static GemmaTokenizer Load(string path)
    {
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using GgufFile gguf = GgufFile.Open(path);
            return FromGguf(gguf);
        }
        if (Directory.Exists(path))
        {
            string json = Path.Combine(path, "tokenizer.json");
            if (File.Exists(json))
                return HfTokenizerJson.Load(json);
            throw new FileNotFoundException($"no tokenizer.json in directory {path}", json);
        }
        return HfTokenizerJson.Load(path);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> (BPE model with byte fallback, Gemma normalizer).</summary>
    public static GemmaTokenizer FromTokenizerJson(string path) => HfTokenizerJson.Load(path);

    /// <summary>Loads the <c>tokenizer.ggml.*</c> metadata of a GGUF file.</summary>
    public static GemmaTokenizer FromGguf(GgufFile gguf) => TokenizerGgufMetadata.Read(gguf);
}
