using System.Text;

namespace Edgewise.Text.Tokenization;

/// <summary>
/// Streaming detokenizer: feed ids as they are sampled, get text that never ends inside a UTF-8 sequence.
/// Byte-fallback tokens of an unfinished character are held back until the character completes; bytes that can
/// never complete become U+FFFD (same replacement rule as <see cref="GemmaTokenizer.Decode"/>), so the
/// concatenated output equals <c>Decode(allIds)</c>. Not thread-safe: one per stream.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private byte[] _buffer = new byte[64];
    private int _pending; // bytes of an unfinished sequence at the start of _buffer

    public IncrementalDecoder(ITokenizer tokenizer, bool skipSpecial = false)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    /// <summary>Number of bytes held back because they start a character that is not complete yet.</summary>
    public int PendingByteCount => _pending;

    /// <summary>Adds one token; returns the text that is now complete (empty while a character is unfinished).</summary>
    public string Add(int id)
    {
        if (_skipSpecial && _tokenizer.IsSpecial(id))
            return "";
        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(id);
        int total = _pending + bytes.Length;
        if (total > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(total, _buffer.Length * 2));
        bytes.CopyTo(_buffer.AsSpan(_pending));

        int complete = total - IncompleteTailLength(_buffer.AsSpan(0, total));
        string text = complete == 0 ? "" : Encoding.UTF8.GetString(_buffer, 0, complete);
        _buffer.AsSpan(complete, total - complete).CopyTo(_buffer);
        _pending = total - complete;
        return text;
    }

    /// <summary>Ends the stream: a held-back incomplete sequence becomes U+FFFD.</summary>
    public string Flush()
    {
        string text = _pending == 0 ? "" : Encoding.UTF8.GetString(_buffer, 0, _pending);
        _pending = 0;
        return text;
    }

    /// <summary>
    /// Length of a trailing prefix of a multi-byte sequence that more bytes could still complete
    /// (a valid lead byte followed only by valid continuation bytes, fewer than it needs).
    /// </summary>
    internal static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= 3 && back <= bytes.Length; back++)
        {
            byte b = bytes[^back];
            if ((b & 0xC0) == 0x80)
                continue; // continuation byte: keep looking for its lead
            int needed = b switch
            {
                >= 0xC2 and <= 0xDF => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 0,
            };
            if (needed <= back)
                return 0;
            // The second byte of some leads is restricted (no overlongs, no surrogates, nothing past U+10FFFF);
            // a tail that already breaks that rule can never complete and is decoded (to U+FFFD) now.
            if (back >= 2)
            {
                byte second = bytes[^(back - 1)];
                bool ok = b switch
                {
                    0xE0 => second >= 0xA0,
                    0xED => second <= 0x9F,
                    0xF0 => second >= 0x90,
                    0xF4 => second <= 0x8F,
                    _ => true,
                };
                if (!ok)
                    return 0;
            }
            return back;
        }
        return 0;
    }
}
