namespace Edgewise.Text.Tokenization;

/// <summary>The tokenizer surface the engine, grammars and server use.</summary>
public interface ITokenizer
{
    int VocabularySize { get; }
    int BosId { get; }
    int EosId { get; }
    int PadId { get; }

    /// <summary>Encodes text; control-token strings in the text become their single ids.</summary>
    int[] Encode(string text, bool addBos = false);

    /// <summary>Decodes ids to text; invalid UTF-8 from byte tokens becomes U+FFFD.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>The exact UTF-8 bytes a token contributes to decoded text (byte tokens give one byte, ▁ becomes space).</summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    /// <summary>The raw vocabulary piece (e.g. "▁the", "&lt;0x0A&gt;", "&lt;start_of_turn&gt;").</summary>
    string TokenPiece(int id);

    /// <summary>True for control/special tokens (never produced by plain text, rendered atomically).</summary>
    bool IsSpecial(int id);

    /// <summary>The id of an exact vocabulary piece, or null.</summary>
    int? PieceToId(string piece);
}
