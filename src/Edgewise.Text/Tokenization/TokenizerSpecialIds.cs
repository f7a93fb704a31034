namespace Edgewise.Text.Tokenization;

/// <summary>The ids the engine needs by role; -1 where a vocabulary has none.</summary>
public readonly record struct TokenizerSpecialIds(int Bos, int Eos, int Pad, int Unknown)
{
    /// <summary>Finds the Gemma pieces <c>&lt;bos&gt;</c>, <c>&lt;eos&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c> by name.</summary>
    public static TokenizerSpecialIds FromPieceNames(IReadOnlyDictionary<string, int> pieceToId)
    {
        static int Find(IReadOnlyDictionary<string, int> map, string piece) => map.TryGetValue(piece, out int id) ? id : -1;
        return new TokenizerSpecialIds(Find(pieceToId, "<bos>"), Find(pieceToId, "<eos>"), Find(pieceToId, "<pad>"), Find(pieceToId, "<unk>"));
    }
}
